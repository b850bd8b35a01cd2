import Reactor

/// The session's open peer connections, with what admission asks of them kept up to date as they
/// come and go: whether an address is already connected (before a dial) and how many connections
/// came in from one host (the per-address cap). Each question is one lookup, never a walk over
/// every connection (a tracker naming 10,000 peers once made dialling quadratic).
struct PeerTable {
    private var peers: [ObjectIdentifier: (peer: PeerConnection, incoming: Bool)] = [:]
    private var remotes: [SocketAddress: Int] = [:]
    private var incomingByHost: [String: Int] = [:]

    /// How many connections are open.
    var count: Int { peers.count }
    /// The connections, in no order.
    var values: some Collection<PeerConnection> { peers.values.lazy.map(\.peer) }

    /// Adds `peer` (incoming: it connected to us).
    mutating func insert(_ peer: PeerConnection, incoming: Bool) {
        let key = ObjectIdentifier(peer)
        guard peers[key] == nil else { return }
        peers[key] = (peer, incoming)
        remotes[peer.remote, default: 0] += 1
        if incoming { incomingByHost[peer.remote.host, default: 0] += 1 }
    }

    /// Removes `peer`; false if it was not here.
    @discardableResult
    mutating func remove(_ peer: PeerConnection) -> Bool {
        guard let (_, incoming) = peers.removeValue(forKey: ObjectIdentifier(peer)) else { return false }
        Self.decrement(&remotes, peer.remote)
        if incoming { Self.decrement(&incomingByHost, peer.remote.host) }
        return true
    }

    /// Whether a connection to or from exactly `address` is open.
    func isConnected(_ address: SocketAddress) -> Bool { remotes[address] != nil }

    /// How many connections `host` opened to us that are still open.
    func incoming(from host: String) -> Int { incomingByHost[host] ?? 0 }

    private static func decrement<Key: Hashable>(_ counts: inout [Key: Int], _ key: Key) {
        if let count = counts[key], count > 1 { counts[key] = count - 1 } else { counts.removeValue(forKey: key) }
    }
}
