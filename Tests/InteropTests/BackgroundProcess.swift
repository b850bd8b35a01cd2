import Foundation

/// A program running beside a test, its output going to a file; stopped by PID.
final class BackgroundProcess {
    let process = Process()
    let outputPath: String

    /// Starts `arguments` with output to `outputPath`.
    init(_ arguments: [String], in directory: String? = nil, outputPath: String) throws {
        self.outputPath = outputPath
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.executableURL = URL(fileURLWithPath: arguments[0].hasPrefix("/") ? arguments[0] : Tools.path(of: arguments[0]) ?? arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits until the output contains `text` or `seconds` pass.
    @discardableResult
    func waitForOutput(_ text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            usleep(50_000)
        }
        return false
    }

    /// Sends `signal` and waits up to `seconds` for exit; SIGKILL after that. Returns the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, seconds: Double = 10) -> Int32 {
        if process.isRunning { kill(pid, signal) }
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Polls `condition` every 100 ms for up to `seconds`.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}

/// Ports handed out by `freePort` in this process: tests run concurrently, and a port released by
/// the probe could otherwise go to two of them.
private let handedOut = NSLock()
nonisolated(unsafe) private var handedOutPorts: Set<UInt16> = []

/// A loopback port free for both TCP and UDP (an evtorrent session binds both: peers on TCP,
/// trackers and later DHT on UDP) and not handed out before in this process.
func freePort() -> UInt16 {
    while true {
        let port = probe(SOCK_STREAM, 0)
        guard port != 0, probe(SOCK_DGRAM, port) == port else { continue }
        let fresh = handedOut.withLock { handedOutPorts.insert(port).inserted }
        if fresh { return port }
    }
}

/// Binds a socket of `type` to 127.0.0.1:`port` (0: any) and returns the port it got (0 if
/// the bind failed); the socket is closed again.
private func probe(_ type: __socket_type, _ port: UInt16) -> UInt16 {
    let fd = socket(AF_INET, Int32(type.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { return 0 }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}
