import Reactor
import TorrentCore

/// Fetching one magnet link's metadata (its info dictionary) from peers: peers come from the
/// link's trackers and `x.pe` addresses, and from peers that connect in naming its info hash;
/// `MetadataExchange` decides what to ask whom; the whole is hashed on the hash pool and checked
/// against the info hash. Then `finished` hears the torrent, and `Session.add(_:handingOver:)`
/// turns the fetch into a running torrent: its trackers keep announcing and its connections go on
/// as the torrent's. Without trackers or peers it waits for peers to connect in (and
/// later PEX, LSD and the DHT), and says so through `isWaitingForPeers`.
public final class MetadataFetch {
    /// The link.
    public let link: MagnetLink
    unowned let session: Session
    /// Where peers come from; handed over to the torrent.
    let sources: PeerSources
    private var exchange: MetadataExchange
    private var connections: [PeerKey: MetadataConnection] = [:]
    /// Hosts that sent metadata that did not hash (not dialled again for this torrent).
    private var banned: Set<String> = []
    private var timer: TimerHandle?
    private var done = false
    /// Called once with the torrent (as a .torrent file and parsed), or why the metadata that
    /// matched the hash is not a usable torrent.
    public var finished: ((Result<(metainfo: Metainfo, file: [UInt8]), LoadError>) -> Void)?
    /// Connections at most.
    public static let maxConnections = 30

    init(session: Session, link: MagnetLink, peers: [SocketAddress]) {
        self.session = session
        self.link = link
        sources = PeerSources(manual: peers)
        exchange = MetadataExchange(ourID: 1, listenPort: Int(session.listenAddress.port))
    }

    /// Peers connected past the handshake.
    public var peerCount: Int { exchange.peerCount }
    /// Metadata pieces received, and of how many (0 of 0 until a peer told the size).
    public var progress: (have: Int, of: Int) { exchange.assembly.progress }
    /// Whether nothing is connected and nothing can be dialled: it waits for peers to come.
    public var isWaitingForPeers: Bool { connections.isEmpty && !sources.hasCandidates }

    /// Starts announcing and dialling, and the upkeep.
    func start() {
        if let trackers = session.trackers, !link.trackers.isEmpty {
            let announcer = trackers.announcer(
                tiers: link.trackers.map { [$0] }, infoHash: link.infoHash, peerID: session.peerID,
                port: session.listenAddress.port, log: session.log
            ) { (0, 0, Int64(MetadataMessage.pieceSize)) }
            sources.startAnnouncing(announcer) { [weak self] in self?.dial() }
        }
        timer = session.loop.scheduleRepeating(every: .seconds(1)) { [weak self] in self?.tick() }
        dial()
    }

    /// Dials known peers while there is room.
    func dial() {
        guard !done else { return }
        let budget = min(Self.maxConnections - connections.count, session.dialBudget)
        guard budget > 0 else { return }
        for address in sources.nextCandidates(budget, now: session.loop.now) {
            guard !banned.contains(address.host), !connections.values.contains(where: { $0.remote == address }) else {
                sources.attemptFailed(address, now: session.loop.now)
                continue
            }
            guard !session.refusesBlocklisted(address) else {
                sources.disconnected(address, forget: true, now: session.loop.now)
                continue
            }
            session.log.debug("metadata_dial", [("peer", address)])
            let placeholder = HandlerSlot()
            let connection = session.connector.openConnection(to: address, from: session.localAddress(toward: address), timeout: .seconds(10), handler: placeholder)
            let peer = MetadataConnection(fetch: self, key: session.newKey(), connection: connection, outgoing: true)
            connection.attach(peer)
            connections[peer.key] = peer
        }
    }

    /// An incoming connection whose handshake named this torrent.
    func adopt(_ connection: any Connection, handshake: Handshake, rest: ByteQueue) {
        guard !done, connections.count < Self.maxConnections, !banned.contains(connection.remoteAddress.host) else {
            return connection.close()
        }
        let peer = MetadataConnection(fetch: self, key: session.newKey(), connection: connection, outgoing: false)
        connection.attach(peer)
        connections[peer.key] = peer
        peer.adopt(handshake, rest: rest)
    }

    func joined(_ peer: MetadataConnection, fast: Bool) {
        if peer.outgoing { sources.connected(peer.remote) }
        perform(exchange.peerJoined(peer.key, fast: fast))
    }

    func received(_ message: PeerMessage, from peer: MetadataConnection) {
        if case .extended(0, let payload) = message, let handshake = try? ExtensionHandshake(payload: payload) {
            peer.listenPort = handshake.listenPort
        }
        perform(exchange.received(message, from: peer.key, now: session.loop.now))
    }

    func closed(_ peer: MetadataConnection, reason: CloseReason) {
        session.log.debug("metadata_peer_closed", [("peer", peer.remote), ("reason", reason), ("joined", peer.joined)])
        guard connections.removeValue(forKey: peer.key) != nil, !done else { return }
        if peer.outgoing {
            if peer.joined {
                sources.disconnected(peer.remote, forget: false, now: session.loop.now)
            } else {
                sources.attemptFailed(peer.remote, now: session.loop.now)
            }
        }
        perform(exchange.peerLeft(peer.key, now: session.loop.now))
    }

    private func perform(_ actions: [MetadataExchange.Action]) {
        for action in actions {
            switch action {
            case .send(let key, let message): connections[key]?.send(message)
            case .drop(let key, let reason): connections[key]?.drop(reason)
            case .check(let bytes): check(bytes)
            }
        }
    }

    private func check(_ bytes: [UInt8]) {
        let expected = link.infoHash
        session.disk.offloader.offload(to: session.disk.hashPool, { Digest.sha1(bytes[...]) == expected.bytes }) { [weak self] ok in
            self?.verified(ok, bytes)
        }
    }

    private func verified(_ ok: Bool, _ bytes: [UInt8]) {
        guard !done else { return }
        guard ok else {
            session.log.warn("metadata_mismatch", [("torrent", link.infoHash.hex), ("detail", "the metadata peers sent does not match the info hash; fetching again from others")])
            for peer in connections.values where exchange.assembly.banned.contains(peer.key) { banned.insert(peer.remote.host) }
            return perform(exchange.verified(false, now: session.loop.now))
        }
        _ = exchange.verified(true, now: session.loop.now)
        let file = Metainfo.torrentFile(infoBytes: bytes, trackers: link.trackers)
        let result: Result<(metainfo: Metainfo, file: [UInt8]), LoadError>
        do { result = .success((try MetainfoLoader.parse(file, path: link.infoHash.hex + ".torrent"), file)) } catch {
            result = .failure(error)
        }
        session.log.info("metadata_fetched", [("torrent", link.infoHash.hex), ("bytes", bytes.count), ("peers", exchange.peerCount)])
        finished?(result)
    }

    private func tick() {
        guard !done else { return }
        perform(exchange.tick(now: session.loop.now))
        dial()
    }

    /// Ends the fetch: connections past their handshake are handed over as they are, the others
    /// close (their addresses ready to dial at once); the sources (trackers announcing, every
    /// address known) go to whoever takes them.
    func end() -> (sources: PeerSources, connections: [Handover]) {
        done = true
        timer?.cancel()
        timer = nil
        var handovers: [Handover] = []
        for peer in connections.values.sorted(by: { $0.key < $1.key }) {
            if let handover = peer.handOver() {
                handovers.append(handover)
                continue
            }
            if peer.outgoing { sources.release(peer.remote) }
            peer.close()
        }
        connections = [:]
        return (sources, handovers)
    }

    /// Gives up: connections closed, trackers told `stopped`.
    func cancel() {
        let (sources, handovers) = end()
        for handover in handovers { handover.connection.close() }
        sources.stop {}
    }
}

@available(*, unavailable)
extension MetadataFetch: Sendable {}

/// Holds a connection's handler while `openConnection` sets it up (the connection keeps what is
/// attached alive; the real handler is attached right after).
final class HandlerSlot: ConnectionHandler {
    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {}
    func connectionClosed(_ connection: any Connection, reason: CloseReason) {}
}
