internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

private func listenerAccepted(
    _ listener: OpaquePointer?, _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: Int32,
    _ context: UnsafeMutableRawPointer?
) {
    Unmanaged<Listener>.fromOpaque(context!).takeUnretainedValue().accepted(fd: fd, address: address)
}

private func listenerFailed(_ listener: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    let error = errno
    Unmanaged<Listener>.fromOpaque(context!).takeUnretainedValue().acceptFailed(errno: error)
}

/// A listening TCP socket (evconnlistener). Each accepted connection is offered to `accept`,
/// which returns its handler, or nil to refuse it (closed at once).
public final class Listener {
    private var listener: OpaquePointer?
    private unowned let loop: EventLoop
    private let accept: (any Connection) -> (any ConnectionHandler)?
    private let options: ConnectionOptions
    private var pausedUntilRetry = false
    /// The address actually bound (with the real port if 0 was asked for).
    public let localAddress: SocketAddress
    /// Called when accepting fails (such as running out of descriptors); listening pauses 100 ms.
    public var acceptErrorObserved: ((SystemError) -> Void)?

    init(
        loop: EventLoop, address: SocketAddress, backlog: Int32, options: ConnectionOptions,
        accept: @escaping (any Connection) -> (any ConnectionHandler)?
    ) throws(SystemError) {
        self.loop = loop
        self.accept = accept
        self.options = options
        var failure: Int32 = 0
        let made: OpaquePointer? = address.withSockAddr { sockaddr, length in
            let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC)
            let result = evconnlistener_new_bind(loop.base, nil, nil, flags, backlog, sockaddr, Int32(length))
            if result == nil { failure = errno }
            return result
        }
        guard let made else { throw SystemError(errno: failure, operation: "listen on \(address)") }
        listener = made
        localAddress = SocketAddress.local(of: evconnlistener_get_fd(made)) ?? address
        // The listener frees its evconnlistener in deinit, so the callbacks hold no retain.
        let context = Unmanaged.passUnretained(self).toOpaque()
        evconnlistener_set_cb(made, listenerAccepted, context)
        evconnlistener_set_error_cb(made, listenerFailed)
    }

    deinit { close() }

    /// Stops listening and frees the socket.
    public func close() {
        if let listener { evconnlistener_free(listener) }
        listener = nil
    }

    fileprivate func accepted(fd: Int32, address: UnsafeMutablePointer<sockaddr>?) {
        guard let address, let remote = SocketAddress(address) else {
            Glibc.close(fd)
            return
        }
        let connection: BufferEventConnection
        if options.lean {
            connection = BufferEventConnection(loop: loop, acceptedSocket: fd, remote: remote, options: options)
        } else {
            guard let bev = bufferevent_socket_new(loop.base, fd, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else {
                Glibc.close(fd)
                return
            }
            connection = BufferEventConnection(loop: loop, bev: bev, remote: remote, connected: true, options: options)
        }
        BufferEventConnection.disableNagle(fd)
        guard let handler = accept(connection) else {
            connection.finish(.closedLocally)
            return
        }
        connection.attach(handler)
        handler.connectionMade(connection)
    }

    fileprivate func acceptFailed(errno error: Int32) {
        acceptErrorObserved?(SystemError(errno: error, operation: "accept"))
        // Out of descriptors: the pending connection stays readable, so pause instead of spinning.
        guard let listener, !pausedUntilRetry else { return }
        pausedUntilRetry = true
        evconnlistener_disable(listener)
        loop.schedule(after: .milliseconds(100)) { [weak self] in
            guard let self, let listener = self.listener else { return }
            self.pausedUntilRetry = false
            evconnlistener_enable(listener)
        }
    }
}

@available(*, unavailable)
extension Listener: Sendable {}

extension EventLoop {
    /// Listens on `address` (port 0 picks a free port; see `localAddress`).
    public func listen(
        on address: SocketAddress, backlog: Int32 = 1024, options: ConnectionOptions = ConnectionOptions(),
        accept: @escaping (any Connection) -> (any ConnectionHandler)?
    ) throws(SystemError) -> Listener {
        try Listener(loop: self, address: address, backlog: backlog, options: options, accept: accept)
    }

    /// Connects to `address`; `handler` hears `connectionMade` on success, or `connectionClosed`
    /// with `.connectFailed`/`.timedOut`. Bytes written before the connect completes are sent after.
    /// With `local`, the socket is bound to that address first (a bench peer from its own 127.x.y.z).
    @discardableResult
    public func connect(
        to address: SocketAddress, from local: SocketAddress? = nil, timeout: Duration = .seconds(10),
        options: ConnectionOptions = ConnectionOptions(), handler: any ConnectionHandler
    ) -> any Connection {
        var fd: Int32 = -1
        var bindError: Int32 = 0
        if let local {
            fd = socket(local.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if fd < 0 || local.withSockAddr({ bind(fd, $0, $1) }) != 0 {
                bindError = errno
                if fd >= 0 { Glibc.close(fd) }
                fd = -1
            }
        }
        let bev = bufferevent_socket_new(base, fd, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue))!
        let connection = BufferEventConnection(loop: self, bev: bev, remote: address, connected: false, options: options)
        connection.attach(handler)
        let result = bindError != 0 ? -1 : address.withSockAddr { bufferevent_socket_connect(bev, $0, Int32($1)) }
        if result != 0 {
            let error = bindError != 0 ? bindError : errno
            // Report on the next loop turn so the caller gets its connection object first.
            schedule(after: .zero) { connection.finish(.connectFailed(SystemError(errno: error, operation: "connect"))) }
        } else {
            connection.armConnectTimeout(timeout)
        }
        return connection
    }
}
