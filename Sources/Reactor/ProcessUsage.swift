#if canImport(Glibc)
    import Glibc
#endif

/// A process's CPU time and memory, from /proc (a benchmarked seeder, or the daemon's own
/// `process_*` metrics).
public struct ProcessUsage: Sendable {
    /// User + system CPU seconds so far.
    public let cpuSeconds: Double
    /// Resident set size in KiB (includes mapped file pages that are also in the page cache).
    public let residentKiB: Int
    /// Anonymous resident memory in KiB: what the process itself allocated.
    public let anonymousKiB: Int

    /// Reads /proc/PID; nil if the process is gone.
    public static func of(pid: Int32) -> ProcessUsage? {
        guard let stat = try? FileContents.readToEnd("/proc/\(pid)/stat", limit: 1 << 16),
            let status = try? FileContents.readToEnd("/proc/\(pid)/status", limit: 1 << 20)
        else { return nil }
        let statText = String(decoding: stat, as: UTF8.self)
        guard let close = statText.lastIndex(of: ")") else { return nil }
        let fields = statText[statText.index(after: close)...].split(separator: " ")
        // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let lines = String(decoding: status, as: UTF8.self).split(separator: "\n")
        func kib(_ key: String) -> Int {
            lines.first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        }
        return ProcessUsage(cpuSeconds: (user + system) / ticks, residentKiB: kib("VmRSS:"), anonymousKiB: kib("RssAnon:"))
    }
}
