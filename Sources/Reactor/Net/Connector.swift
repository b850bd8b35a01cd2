/// Opens outgoing connections. `EventLoop` connects real sockets; ReactorTesting's
/// `FakeConnector` hands out `FakeConnection`s and records each attempt.
public protocol Connector: AnyObject {
    /// Connects to `address` (from `local`, if given); `handler` hears `connectionMade`, or
    /// `connectionClosed` with `.connectFailed` or `.timedOut`.
    func openConnection(
        to address: SocketAddress, from local: SocketAddress?, timeout: Duration, handler: any ConnectionHandler
    ) -> any Connection
}

extension EventLoop: Connector {
    public func openConnection(
        to address: SocketAddress, from local: SocketAddress?, timeout: Duration, handler: any ConnectionHandler
    ) -> any Connection {
        connect(to: address, from: local, timeout: timeout, handler: handler)
    }
}
