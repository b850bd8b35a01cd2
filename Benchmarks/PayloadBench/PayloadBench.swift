import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Measures the reactor's payload path and idle-connection cost (issue: Reactor benchmark).
///
///     payload-bench send MODE FILE PORT [CONNECTIONS]   serve FILE as 13-byte header + 16 KiB blocks
///     payload-bench receive PORT [CONNECTIONS]          read until EOF, report bytes
///     payload-bench idle-server PORT                    accept and hold connections, print RSS
///     payload-bench idle-client PORT COUNT SECONDS      open COUNT connections from 127.0.x.y, hold
///
/// The sender prints one line: mode, bytes, seconds, GiB/s, CPU seconds (user+sys) per GiB.
enum PayloadBench {
    static func main(_ arguments: [String]) {
        let limit = ResourceLimits.raiseOpenFileLimit()
        ResourceLimits.tuneAllocator()
        switch arguments.dropFirst().first {
        case "send" where arguments.count >= 5:
            guard let mode = PayloadMode(rawValue: arguments[2]), let port = UInt16(arguments[4]) else { usage() }
            send(mode: mode, path: arguments[3], port: port, connections: arguments.count > 5 ? Int(arguments[5])! : 1)
        case "receive" where arguments.count >= 3:
            receive(port: UInt16(arguments[2])!, connections: arguments.count > 3 ? Int(arguments[3])! : 1)
        case "idle-server" where arguments.count >= 3:
            idleServer(port: UInt16(arguments[2])!, descriptorLimit: limit)
        case "idle-client" where arguments.count >= 5:
            idleClient(port: UInt16(arguments[2])!, count: Int(arguments[3])!, seconds: Int(arguments[4])!)
        default:
            usage()
        }
    }

    static func usage() -> Never {
        print("usage: payload-bench send MODE FILE PORT [N] | receive PORT [N] | idle-server PORT | idle-client PORT COUNT SECONDS")
        print("modes: \(PayloadMode.allCases.map(\.rawValue).joined(separator: ", "))")
        exit(2)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func send(mode: PayloadMode, path: String, port: UInt16, connections: Int) {
        let loop = try! EventLoop()
        let file = try! OpenFile(path: path, mode: mode)
        var finished = 0
        var senders: [BlockSender] = []
        var started: ContinuousClock.Instant?
        var cpuStart = 0.0
        let listener = try! loop.listen(on: SocketAddress(host: "127.0.0.1", port: port)!) { _ in
            if started == nil {
                started = ContinuousClock.now
                cpuStart = cpuSeconds()
            }
            let sender = BlockSender(file: file) {
                finished += 1
                if finished == connections { loop.stop() }
            }
            senders.append(sender)
            return sender
        }
        print("listening on \(listener.localAddress)")
        fflush(nil)
        loop.run()
        let elapsed = ContinuousClock.now - started!
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpu = cpuSeconds() - cpuStart
        let gib = Double(file.size) * Double(connections) / Double(1 << 30)
        print(
            "mode=\(mode.rawValue) bytes=\(Int64(gib * Double(1 << 30))) seconds=\(rounded(seconds)) gib_per_s=\(rounded(gib / seconds)) cpu_s_per_gib=\(rounded(cpu / gib))"
        )
    }

    static func receive(port: UInt16, connections: Int) {
        let pool = WorkerPool(threads: connections)
        let total = Totals()
        for _ in 0..<connections {
            pool.submit {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = port.bigEndian
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                precondition(connected == 0, "connect failed: \(errno)")
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 64)
                var bytes = 0
                while true {
                    let count = recv(fd, buffer, 1 << 20, 0)
                    if count <= 0 { break }
                    bytes += count
                }
                close(fd)
                total.add(bytes)
            }
        }
        pool.shutdown()
        print("received=\(total.value)")
    }

    static func rounded(_ value: Double) -> String {
        String(Double(Int(value * 1000)) / 1000)
    }
}

/// Serves one file to one connection as BitTorrent `piece` messages, keeping 4 MiB queued.
final class BlockSender: ConnectionHandler {
    static let blockLength = 16 << 10
    private let file: OpenFile
    private var offset: Int64 = 0
    private let done: () -> Void

    init(file: OpenFile, done: @escaping () -> Void) {
        self.file = file
        self.done = done
    }

    func connectionMade(_ connection: any Connection) {
        connection.setOutputLowWatermark(1 << 20)
        fill(connection)
    }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) { input.drain(input.count) }

    func outputFlushed(_ connection: any Connection) { fill(connection) }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) { done() }

    private func fill(_ connection: any Connection) {
        while connection.pendingOutputBytes < 4 << 20 && offset < file.size {
            let length = Int(min(Int64(Self.blockLength), file.size - offset))
            let index = UInt32(offset / (256 << 10))
            let begin = UInt32(offset % (256 << 10))
            var header: [UInt8] = []
            header.reserveCapacity(13)
            for value in [UInt32(9 + length)] { header += withUnsafeBytes(of: value.bigEndian, Array.init) }
            header.append(7)
            header += withUnsafeBytes(of: index.bigEndian, Array.init)
            header += withUnsafeBytes(of: begin.bigEndian, Array.init)
            precondition(connection.write(header: header, block: FileBlock(file: file, offset: offset, length: length)))
            offset += Int64(length)
        }
        if offset >= file.size { connection.close(flushingOutput: true) }
    }
}

/// A thread-safe byte counter for the receiver threads.
final class Totals: @unchecked Sendable {
    private let lock = ConditionLock()
    private var total = 0
    func add(_ count: Int) { lock.withLock { total += count } }
    var value: Int { lock.withLock { total } }
}
