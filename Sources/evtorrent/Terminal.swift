import Client

#if canImport(Glibc)
    import Glibc
#endif

/// Writing to the terminal: errors, the progress line, and whether a terminal is there at all.
enum Terminal {
    /// Whether standard error is a terminal (progress bars go there, and only then).
    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Writes `text` to standard error without a newline.
    static func writeError(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var done = 0
            while done < buffer.count {
                let count = write(2, buffer.baseAddress! + done, buffer.count - done)
                if count <= 0 { return }
                done += count
            }
        }
    }
}

/// A one-line progress bar redrawn in place on standard error; silent when that is not a terminal.
final class ProgressBar {
    private let label: String
    private let total: Int64
    private let enabled: Bool
    private let started = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?

    /// A bar for `total` bytes of work, titled `label`.
    init(label: String, total: Int64, enabled: Bool = Terminal.stderrIsTerminal) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled
    }

    /// Redraws at most ten times a second, and always when `done` reaches the total.
    func update(bytesDone done: Int64) {
        guard enabled else { return }
        let now = ContinuousClock.now
        if let lastDraw, now - lastDraw < .milliseconds(100), done < total { return }
        lastDraw = now
        let elapsed = (now - started).inSeconds
        let fraction = min(Double(done) / Double(total), 1)
        let bar = Self.bar(fraction)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var line = "\r\(label) [\(bar)] \(Int(fraction * 100))% \(Format.bytes(done))/\(Format.bytes(total))"
        line += "  \(Format.bytes(Int64(rate)))/s"
        if rate > 0 && done < total { line += "  ETA \(Format.duration(Double(total - done) / rate))" }
        Terminal.writeError(line + "\u{1B}[K")
    }

    /// Ends the line so later output starts on a fresh one.
    func finish() {
        guard enabled else { return }
        Terminal.writeError("\n")
    }

    /// Seconds elapsed since the bar was made.
    var elapsedSeconds: Double { (ContinuousClock.now - started).inSeconds }

    /// The bar itself: `width` characters, `#` for the part done.
    static func bar(_ fraction: Double, width: Int = 30) -> String {
        let filled = Int(min(max(fraction, 0), 1) * Double(width))
        return String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    }
}

/// A progress bar made on the first report, titled by it: for work whose size and name are only
/// known once it starts (hashing or checking during start-up).
final class LazyProgressBar {
    private var bar: ProgressBar?

    func update(bytesDone done: Int64, total: Int64, label: String) {
        if bar == nil { bar = ProgressBar(label: label, total: total) }
        bar?.update(bytesDone: done)
    }

    func finish() { bar?.finish() }
}
