import Reactor
import TorrentCore

/// How a session listens and serves.
public struct SessionOptions: Sendable {
    /// Where peers connect.
    public var listen = SocketAddress(host: "0.0.0.0", port: 6881)!
    /// Peers across all torrents (the descriptor limit caps it too).
    public var maxPeers = 18_000
    /// Peers per torrent.
    public var maxPeersPerTorrent = 18_000
    /// Regular unchoke slots per torrent; nil (the default) serves every interested peer. Measured
    /// at 200 peers, 50 slots with 30 s round-robin turns left 150 peers without a byte for 10 s.
    public var unchokeSlots: Int? = nil
    /// How the seeding choker ranks peers.
    public var choker = SeedChokingAlgorithm.roundRobin
    /// How file data reaches sockets.
    public var payloadMode = PayloadMode.mappedReference
    /// Files kept open at once.
    public var openFiles = 512
    /// Drop a connection that has not sent a handshake by then.
    public var handshakeTimeout: Duration = .seconds(20)
    /// Upload cap for the whole session.
    public var uploadLimit: Int?

    /// The defaults.
    public init() {}
}

/// Counters a status line shows.
public struct SessionStatus: Sendable {
    public var peers = 0
    public var interested = 0
    public var unchoked = 0
    public var uploadedBytes: Int64 = 0
    public var uploadRate = 0
    public var downloadedBytes: Int64 = 0
    public var downloadRate = 0
}

/// Several torrents in one process on one port: accepts peers, routes them by info hash, and
/// enforces the connection limits.
public final class Session {
    let loop: EventLoop
    public let options: SessionOptions
    let log: Log
    /// Our BEP 20 peer id, the same in handshakes and tracker announces.
    public let peerID: [UInt8]
    let blocks: BlockReader
    let diskPool: WorkerPool
    /// Hashes downloaded pieces (one thread per core).
    let hashPool: WorkerPool
    private var listener: Listener?
    private var torrents: [InfoHash: Torrent] = [:]
    private var connections: [ObjectIdentifier: PeerConnection] = [:]
    private var uploadGroup: RateLimitGroup?
    private var lastLimitLog: ContinuousClock.Instant?
    private var rateSamples: [(time: ContinuousClock.Instant, up: Int64, down: Int64)] = []
    /// Peers dropped for protocol errors.
    public internal(set) var droppedPeers = 0
    /// The address peers reach us at (with the real port once bound).
    public private(set) var listenAddress: SocketAddress

    /// Starts listening.
    public init(loop: EventLoop, options: SessionOptions, log: Log) throws(SystemError) {
        self.loop = loop
        self.options = options
        self.log = log
        listenAddress = options.listen
        var generator = SystemRandomNumberGenerator()
        peerID = PeerID.generate(using: &generator)
        diskPool = WorkerPool(threads: 2)
        hashPool = WorkerPool(threads: WorkerPool.coreCount)
        blocks = BlockReader(loop: loop, files: OpenFileCache(capacity: options.openFiles, mode: options.payloadMode), diskPool: diskPool)
        if let limit = options.uploadLimit {
            uploadGroup = RateLimitGroup(loop: loop, limit: RateLimit(writeBytesPerSecond: limit))
        }
        var connectionOptions = ConnectionOptions()
        connectionOptions.inputLimit = 256 << 10
        let listener = try loop.listen(on: options.listen, backlog: 4096, options: connectionOptions) { [unowned self] connection in
            self.accept(connection)
        }
        listenAddress = listener.localAddress
        self.listener = listener
        listener.acceptErrorObserved = { [unowned self] error in self.logLimit("accept failed: \(error)") }
        loop.scheduleRepeating(every: .seconds(1)) { [weak self] in self?.sampleRate() }
        // Peers come and go; give the heap they used back every half minute.
        loop.scheduleRepeating(every: .seconds(30)) { ResourceLimits.releaseFreeMemory() }
    }

    /// Adds a torrent to serve, with the pieces already verified; with `download`, the missing
    /// wanted pieces are fetched from peers too.
    @discardableResult
    public func add(_ metainfo: Metainfo, location: ContentLocation, have: Bitfield, download: DownloadOptions? = nil) -> Torrent {
        let torrent = Torrent(session: self, metainfo: metainfo, location: location, have: have, download: download)
        torrents[metainfo.infoHash] = torrent
        return torrent
    }

    func torrent(for infoHash: InfoHash) -> Torrent? { torrents[infoHash] }

    /// Connected peers (all torrents, handshake or not).
    public var connectionCount: Int { connections.count }

    /// What the status line shows.
    public var status: SessionStatus {
        var status = SessionStatus()
        for torrent in torrents.values {
            status.peers += torrent.peerCount
            status.interested += torrent.interestedCount
            status.unchoked += torrent.unchokedCount
            status.uploadedBytes += torrent.uploadedBytes
            status.downloadedBytes += torrent.downloadedBytes
        }
        if let first = rateSamples.first, let last = rateSamples.last, last.time > first.time {
            let seconds = (last.time - first.time).inSeconds
            status.uploadRate = Int(Double(last.up - first.up) / seconds)
            status.downloadRate = max(0, Int(Double(last.down - first.down) / seconds))
        }
        return status
    }

    /// Stops accepting and closes every peer.
    public func shutdown() {
        listener?.close()
        listener = nil
        for torrent in torrents.values { torrent.stop() }
        for peer in Array(connections.values) { peer.connection?.close() }
        diskPool.shutdown()
        hashPool.shutdown()
    }

    private func accept(_ connection: any Connection) -> (any ConnectionHandler)? {
        guard connections.count < options.maxPeers else {
            logLimit("peer limit \(options.maxPeers) reached; refusing \(connection.remoteAddress)")
            return nil
        }
        if let uploadGroup { connection.join(uploadGroup) }
        let peer = PeerConnection(session: self, connection: connection)
        connections[ObjectIdentifier(peer)] = peer
        return peer
    }

    func connectionClosed(_ peer: PeerConnection, reason: CloseReason) {
        connections.removeValue(forKey: ObjectIdentifier(peer))
        if case .connectFailed = reason { log.debug("connect_failed", [("peer", peer.remote), ("reason", reason)]) }
    }

    /// Outgoing connections not yet past the handshake.
    var pendingOutgoing: Int { connections.values.filter { $0.torrent == nil }.count }

    /// Opens a connection to `address` for `torrent`.
    func connectOut(to address: SocketAddress, for torrent: Torrent) {
        guard connections.count < options.maxPeers,
            !connections.values.contains(where: { $0.remote == address })
        else { return }
        let placeholder = OutgoingConnect()
        // Bound to a specific address, connect from it too: peers tell each other apart by IP.
        let host = listenAddress.host
        let local = host == "0.0.0.0" || host == "::" || address.isIPv6 != listenAddress.isIPv6 ? nil : SocketAddress(host: host, port: 0)
        let connection = loop.connect(to: address, from: local, timeout: .seconds(10), handler: placeholder)
        let peer = PeerConnection(session: self, connection: connection, outgoing: torrent)
        connection.handler = peer
        placeholder.peer = peer
        if let uploadGroup { connection.join(uploadGroup) }
        connections[ObjectIdentifier(peer)] = peer
    }

    /// Logs a limit being hit, at most once every 10 s.
    func logLimit(_ message: String) {
        let now = loop.now
        if let last = lastLimitLog, now - last < .seconds(10) { return }
        lastLimitLog = now
        log.warn("limit_reached", [("detail", message)])
    }

    private func sampleRate() {
        let up = torrents.values.reduce(Int64(0)) { $0 + $1.uploadedBytes }
        let down = torrents.values.reduce(Int64(0)) { $0 + $1.downloadedBytes }
        rateSamples.append((loop.now, up, down))
        if rateSamples.count > 5 { rateSamples.removeFirst() }
    }
}

@available(*, unavailable)
extension Session: Sendable {}

/// Holds the peer while `EventLoop.connect` sets up (the loop keeps its handler alive).
private final class OutgoingConnect: ConnectionHandler {
    var peer: PeerConnection?
    func connectionMade(_ connection: any Connection) { peer?.connectionMade(connection) }
    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) { peer?.bytesArrived(connection, &input) }
    func outputFlushed(_ connection: any Connection) { peer?.outputFlushed(connection) }
    func connectionClosed(_ connection: any Connection, reason: CloseReason) {
        peer?.connectionClosed(connection, reason: reason)
        peer = nil
    }
}
