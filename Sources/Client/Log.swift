import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// Structured log lines on standard error: `2026-11-21T19:38:01Z warn peer_dropped peer=1.2.3.4:5 reason="..."`.
/// Quiet by default (warnings and errors); `--verbose` shows info, `--debug` everything.
public final class Log: @unchecked Sendable {
    /// Severity, least to most.
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warn, error
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
        var name: String { ["debug", "info", "warn", "error"][rawValue] }
    }

    // Written once at start-up, before other threads log.
    private var minimum: Level
    private let lock = ConditionLock()
    /// Called before each line is written (the status line clears itself here).
    public var beforeWrite: (() -> Void)?

    private let sink: (String) -> Void

    /// A log showing `minimum` and above, written to standard error (or to `sink`, for tests).
    public init(minimum: Level = .warn, sink: ((String) -> Void)? = nil) {
        self.minimum = minimum
        self.sink =
            sink ?? { line in
                var bytes = Array(line.utf8)
                _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
            }
    }

    /// Whether `level` would be written.
    public func enabled(_ level: Level) -> Bool { level >= minimum }

    /// Writes `event` with `fields` if `level` is enabled. Values with spaces or quotes are quoted.
    public func log(_ level: Level, _ event: String, _ fields: [(String, Any)] = []) {
        guard level >= minimum else { return }
        var seconds = timespec()
        clock_gettime(CLOCK_REALTIME, &seconds)
        var time = tm()
        var now = seconds.tv_sec
        gmtime_r(&now, &time)
        let stamp =
            "\(time.tm_year + 1900)-\(pad(Int(time.tm_mon) + 1))-\(pad(Int(time.tm_mday)))T\(pad(Int(time.tm_hour))):\(pad(Int(time.tm_min))):\(pad(Int(time.tm_sec)))Z"
        var line = "\(stamp) \(level.name) \(event)"
        for (key, value) in fields { line += " \(key)=\(Self.quote("\(value)"))" }
        line += "\n"
        lock.withLock {
            beforeWrite?()
            sink(line)
        }
    }

    public func debug(_ event: String, _ fields: [(String, Any)] = []) { log(.debug, event, fields) }
    public func info(_ event: String, _ fields: [(String, Any)] = []) { log(.info, event, fields) }
    public func warn(_ event: String, _ fields: [(String, Any)] = []) { log(.warn, event, fields) }
    public func error(_ event: String, _ fields: [(String, Any)] = []) { log(.error, event, fields) }

    private func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// A value as it goes into a line: control characters escaped (a tracker's or peer's text
    /// cannot end the line, forge another or drive the terminal), quoted if it has spaces, quotes,
    /// `=` or backslashes, or is empty.
    static func quote(_ text: String) -> String {
        let text = text.printable(limit: 4096)
        guard text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" }) || text.isEmpty else { return text }
        return "\"" + text.replacingQuotes() + "\""
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var out = ""
        for character in self { out += character == "\"" ? "\\\"" : String(character) }
        return out
    }
}
