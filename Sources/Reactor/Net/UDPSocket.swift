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
        let fd = try Self.open(address)
        guard address.withSockAddr({ bind(fd, $0, $1) }) == 0 else {
            let error = errno
            close(fd)
            throw SystemError(errno: error, operation: "bind \(address)")
        }
        self.fd = fd
        localAddress = SocketAddress.local(of: fd) ?? address
        watch(loop)
    }

    /// Joins the multicast `group` (its address and port) on every interface and receives what
    /// is sent to it; the port is shared with other processes on this host, and what this
    /// socket sends to the group loops back to them (BEP 14 local service discovery).
    public init(loop: EventLoop, joining group: SocketAddress) throws(SystemError) {
        let fd = try Self.open(group)
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size)
        let any = SocketAddress(host: group.isIPv6 ? "::" : "0.0.0.0", port: group.port)!
        var joined: Int32
        if group.isIPv6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size)
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, &one, size)
            var request = ipv6_mreq()
            withUnsafeMutableBytes(of: &request.ipv6mr_multiaddr) { $0.copyBytes(from: group.ip) }
            joined = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ipv6_mreq>.size))
        } else {
            var loopback: UInt8 = 1
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loopback, 1)
            var request = ip_mreq()
            withUnsafeMutableBytes(of: &request.imr_multiaddr) { $0.copyBytes(from: group.ip) }
            request.imr_interface.s_addr = 0  // INADDR_ANY: the kernel picks by route
            joined = setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size))
        }
        guard joined == 0 else {
            let error = errno
            close(fd)
            throw SystemError(errno: error, operation: "join multicast group \(group.host)")
        }
        guard any.withSockAddr({ bind(fd, $0, $1) }) == 0 else {
            let error = errno
            close(fd)
            throw SystemError(errno: error, operation: "bind \(any)")
        }
        self.fd = fd
        localAddress = SocketAddress.local(of: fd) ?? any
        watch(loop)
    }

    private static func open(_ address: SocketAddress) throws(SystemError) -> Int32 {
        let fd = socket(
            address.isIPv6 ? AF_INET6 : AF_INET,
            Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "socket") }
        return fd
    }

    private func watch(_ loop: EventLoop) {
        // The socket frees its event in deinit, so the event holds no retain.
        event = event_new(loop.base, fd, Int16(EV_READ | EV_PERSIST), datagramReadable, nil)
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
