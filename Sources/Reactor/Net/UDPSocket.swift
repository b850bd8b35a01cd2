internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

private func datagramReadable(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<UDPSocket>.fromOpaque(context!).takeUnretainedValue().readAll()
}

/// A non-blocking UDP socket on the loop (UDP trackers, BEP 15). Owns its descriptor and event.
public final class UDPSocket {
    private let fd: Int32
    private var event: OpaquePointer?
    /// The bound address (with the real port if 0 was asked for).
    public let localAddress: SocketAddress
    /// Called on the loop for every datagram received.
    public var datagramArrived: (([UInt8], SocketAddress) -> Void)?

    /// Binds to `address` (port 0 picks one) on `loop`.
    public init(loop: EventLoop, address: SocketAddress) throws(SystemError) {
        let fd = socket(
            address.isIPv6 ? AF_INET6 : AF_INET,
            Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "socket") }
        guard address.withSockAddr({ bind(fd, $0, $1) }) == 0 else {
            let error = errno
            close(fd)
            throw SystemError(errno: error, operation: "bind \(address)")
        }
        self.fd = fd
        localAddress = SocketAddress.local(of: fd) ?? address
        // The socket frees its event in deinit, so the event holds no retain.
        event = event_new(
            loop.base, fd, Int16(EV_READ | EV_PERSIST), datagramReadable, nil)
        event_assign(event, loop.base, fd, Int16(EV_READ | EV_PERSIST), datagramReadable, Unmanaged.passUnretained(self).toOpaque())
        event_add(event, nil)
    }

    deinit {
        if let event { event_free(event) }
        close(fd)
    }

    /// Sends one datagram; false if the kernel refused it at once (the caller's retry covers it).
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress) -> Bool {
        bytes.withUnsafeBytes { buffer in
            address.withSockAddr { sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, $1) } == buffer.count
        }
    }

    fileprivate func readAll() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &length)
                    }
                }
            }
            guard count >= 0 else { return }
            let sender = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0) }
            }
            if let sender { datagramArrived?(Array(buffer[..<count]), sender) }
        }
    }
}

@available(*, unavailable)
extension UDPSocket: Sendable {}
