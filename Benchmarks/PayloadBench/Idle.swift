import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Holds every connection it accepts, doing nothing with them.
final class IdleHolder: ConnectionHandler {
    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) { input.drain(input.count) }
    func connectionClosed(_ connection: any Connection, reason: CloseReason) {}
}

extension PayloadBench {
    /// Resident memory of this process, in KiB (from /proc/self/statm).
    static func residentKiB() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var size = 0
        var resident = 0
        withUnsafeMutablePointer(to: &size) { sizePointer in
            withUnsafeMutablePointer(to: &resident) { residentPointer in
                _ = withVaList([sizePointer, residentPointer]) { vfscanf(file, "%ld %ld", $0) }
            }
        }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }

    static func idleServer(port: UInt16, descriptorLimit: Int) {
        let loop = try! EventLoop()
        var held = 0
        let baseline = residentKiB()
        let holder = IdleHolder()
        let listener = try! loop.listen(on: SocketAddress(host: "0.0.0.0", port: port)!, backlog: 4096) { _ in
            held += 1
            return holder
        }
        print("listening on \(listener.localAddress), descriptor limit \(descriptorLimit), baseline RSS \(baseline) KiB")
        fflush(nil)
        var last = -1
        loop.scheduleRepeating(every: .seconds(1)) {
            guard held != last else { return }
            last = held
            let rss = residentKiB()
            let perConnection = held > 0 ? Double(rss - baseline) / Double(held) : 0
            print("held=\(held) rss_kib=\(rss) per_connection_kib=\(rounded(perConnection))")
            fflush(nil)
        }
        loop.watchSignal(SIGTERM) { loop.stop() }
        loop.watchSignal(SIGINT) { loop.stop() }
        loop.run()
        listener.close()
    }

    /// Opens `count` connections spread over source addresses 127.0.x.y, holds them, then exits.
    static func idleClient(port: UInt16, count: Int, seconds: Int) {
        var fds: [Int32] = []
        for index in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else {
                print("socket failed at \(index): errno \(errno)")
                break
            }
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr("127.0.\(1 + index / 250).\(1 + index % 250)")
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = port.bigEndian
            remote.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &local) { localPointer in
                withUnsafePointer(to: &remote) { remotePointer in
                    localPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { l in
                        remotePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { r in
                            bind(fd, l, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                                && connect(fd, r, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                        }
                    }
                }
            }
            guard ok else {
                print("connect failed at \(index): errno \(errno)")
                close(fd)
                break
            }
            fds.append(fd)
        }
        print("opened=\(fds.count)")
        fflush(nil)
        sleep(UInt32(seconds))
        for fd in fds { close(fd) }
    }
}
