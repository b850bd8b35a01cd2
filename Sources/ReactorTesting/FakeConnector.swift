import Reactor

/// A `Connector` for tests: each attempt becomes a `FakeConnection` that is not yet made; the
/// test plays the network with `makeConnection()` (success) or `refuse` (failure).
public final class FakeConnector: Connector {
    /// Every attempt so far, in order.
    public private(set) var attempts: [FakeConnection] = []

    /// No attempts yet.
    public init() {}

    public func openConnection(
        to address: SocketAddress, from local: SocketAddress?, timeout: Duration, handler: any ConnectionHandler
    ) -> any Connection {
        let connection = FakeConnection(remote: address, handler: handler)
        attempts.append(connection)
        return connection
    }
}
