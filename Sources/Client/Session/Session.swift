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

/// What a session runs on: the real loop in production; `ManualLoop`, `InlineOffloader` and
/// `FakeConnector` (ReactorTesting) in tests, so the engine is tested without sockets.
public struct SessionEnvironment {
    /// Time and timers.
    public var scheduler: any Scheduler
    /// Pool work handed back on the loop.
    public var offloader: any Offloader
    /// Outgoing connections.
    public var connector: any Connector

    /// Everything on `loop`.
    public init(loop: EventLoop) {
        scheduler = loop
        offloader = loop
        connector = loop
    }

    /// Each part given.
    public init(scheduler: any Scheduler, offloader: any Offloader, connector: any Connector) {
        self.scheduler = scheduler
        self.offloader = offloader
        self.connector = connector
    }
}

/// Any number of torrents in one process on one port: accepts peers, routes them by info hash,
/// enforces the connection limits, and drives every torrent that has work from one 1 s tick.
/// Torrents without peers or a download cost no timers and no work per tick.
public final class Session {
    let loop: any Scheduler
    let connector: any Connector
    public let options: SessionOptions
    let log: Log
    /// Our BEP 20 peer id, the same in handshakes and tracker announces.
    public let peerID: [UInt8]
    /// The disk layer every torrent shares.
    let disk: DiskIO
    private var listener: Listener?
    private var torrents: [InfoHash: Torrent] = [:]
    /// Torrents the tick visits: those with peers or a download.
    private var ticking: [InfoHash: Torrent] = [:]
    private var connections: [ObjectIdentifier: PeerConnection] = [:]
    private var nextKey = 0
    private var timers: [TimerHandle] = []
    private var uploadGroup: RateLimitGroup?
    private var lastLimitLog: ContinuousClock.Instant?
    private var rateSamples: [(time: ContinuousClock.Instant, up: Int64, down: Int64)] = []
    private var isShutDown = false
    /// Peers dropped for protocol errors, in all.
    public private(set) var droppedPeers = 0
    /// Peers dropped, by `PeerError.label`.
    public private(set) var droppedByReason: [String: Int] = [:]
    /// The address peers reach us at (with the real port once bound).
    public private(set) var listenAddress: SocketAddress

    /// A session on `environment`, not yet listening (`listen(on:)`).
    public init(environment: SessionEnvironment, options: SessionOptions, log: Log) {
        loop = environment.scheduler
        connector = environment.connector
        self.options = options
        self.log = log
        listenAddress = options.listen
        var generator = SystemRandomNumberGenerator()
        peerID = PeerID.generate(using: &generator)
        disk = DiskIO(offloader: environment.offloader, openFiles: options.openFiles, payloadMode: options.payloadMode)
        timers.append(loop.scheduleRepeating(every: .seconds(1)) { [weak self] in self?.tick() })
        // Peers come and go; give the heap they used back every half minute.
        timers.append(loop.scheduleRepeating(every: .seconds(30)) { ResourceLimits.releaseFreeMemory() })
    }

    /// A session on `loop`, listening on `options.listen`.
    public convenience init(loop: EventLoop, options: SessionOptions, log: Log) throws(SystemError) {
        self.init(environment: SessionEnvironment(loop: loop), options: options, log: log)
        if let limit = options.uploadLimit {
            uploadGroup = RateLimitGroup(loop: loop, limit: RateLimit(writeBytesPerSecond: limit))
        }
        try listen(on: loop)
    }

    /// Starts accepting peers on `options.listen`.
    public func listen(on loop: EventLoop) throws(SystemError) {
        var connectionOptions = ConnectionOptions()
        connectionOptions.inputLimit = 256 << 10
        let listener = try loop.listen(on: options.listen, backlog: 4096, options: connectionOptions) { [unowned self] connection in
            self.accept(connection)
        }
        listenAddress = listener.localAddress
        self.listener = listener
        listener.acceptErrorObserved = { [unowned self] error in self.logLimit("accept failed: \(error)") }
    }

    /// Adds a torrent to serve, with the pieces already verified; with `download`, the missing
    /// wanted pieces are fetched from peers too. A torrent already in the session is returned as is.
    @discardableResult
    public func add(_ metainfo: Metainfo, location: ContentLocation, have: Bitfield, download: DownloadOptions? = nil) -> Torrent {
        if let existing = torrents[metainfo.infoHash] { return existing }
        let torrent = Torrent(session: self, metainfo: metainfo, location: location, have: have, download: download)
        torrents[metainfo.infoHash] = torrent
        if torrent.needsTick { ticking[metainfo.infoHash] = torrent }
        return torrent
    }

    /// Takes a torrent out of the session: its peers are closed and nothing of it runs any more.
    public func remove(_ infoHash: InfoHash) {
        guard let torrent = torrents.removeValue(forKey: infoHash) else { return }
        ticking.removeValue(forKey: infoHash)
        torrent.stop()
    }

    /// The torrent with `infoHash`, if the session has it.
    public func torrent(for infoHash: InfoHash) -> Torrent? { torrents[infoHash] }

    /// How many torrents the session holds.
    public var torrentCount: Int { torrents.count }
    /// How many torrents the tick visits (those with peers or a download).
    public var tickingCount: Int { ticking.count }

    /// Connected peers (all torrents, handshake or not).
    public var connectionCount: Int { connections.count }

    /// What the status line shows; visits only torrents with peers or a download.
    public var status: SessionStatus {
        var status = SessionStatus()
        status.uploadedBytes = uploadedBytes
        status.downloadedBytes = downloadedBytes
        for torrent in ticking.values {
            status.peers += torrent.peerCount
            status.interested += torrent.interestedCount
            status.unchoked += torrent.unchokedCount
        }
        if let first = rateSamples.first, let last = rateSamples.last, last.time > first.time {
            let seconds = (last.time - first.time).inSeconds
            status.uploadRate = Int(Double(last.up - first.up) / seconds)
            status.downloadRate = max(0, Int(Double(last.down - first.down) / seconds))
        }
        return status
    }

    /// Payload bytes uploaded by every torrent, kept as they are sent.
    public private(set) var uploadedBytes: Int64 = 0
    /// Payload bytes accepted by every torrent (less failed pieces), kept as they arrive.
    public private(set) var downloadedBytes: Int64 = 0

    func countUploaded(_ bytes: Int) { uploadedBytes += Int64(bytes) }
    func countDownloaded(_ bytes: Int64) { downloadedBytes += bytes }

    /// Stops accepting, closes every peer and stops the tick.
    public func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        listener?.close()
        listener = nil
        for timer in timers { timer.cancel() }
        timers = []
        for torrent in torrents.values { torrent.stop() }
        for peer in Array(connections.values) { peer.connection?.close() }
        disk.shutdown()
    }

    func accept(_ connection: any Connection) -> (any ConnectionHandler)? {
        guard !isShutDown, connections.count < options.maxPeers else {
            logLimit("peer limit \(options.maxPeers) reached; refusing \(connection.remoteAddress)")
            return nil
        }
        if let uploadGroup { connection.join(uploadGroup) }
        let peer = PeerConnection(session: self, key: newKey(), connection: connection)
        connections[ObjectIdentifier(peer)] = peer
        return peer
    }

    private func newKey() -> PeerKey {
        nextKey += 1
        return PeerKey(nextKey)
    }

    func connectionClosed(_ peer: PeerConnection, reason: CloseReason) {
        connections.removeValue(forKey: ObjectIdentifier(peer))
        if case .connectFailed = reason { log.debug("connect_failed", [("peer", peer.remote), ("reason", reason)]) }
    }

    /// A peer was dropped for breaking the protocol (or being banned, or a seed like us).
    func peerDropped(_ error: PeerError) {
        droppedPeers += 1
        droppedByReason[error.label, default: 0] += 1
    }

    /// `torrent` has work for the tick (a peer joined).
    func torrentNeedsTick(_ torrent: Torrent) { ticking[torrent.metainfo.infoHash] = torrent }

    /// Outgoing connections not yet past the handshake.
    var pendingOutgoing: Int { connections.values.filter { $0.torrent == nil }.count }

    /// Opens a connection to `address` for `torrent`.
    func connectOut(to address: SocketAddress, for torrent: Torrent) {
        guard !isShutDown, connections.count < options.maxPeers,
            !connections.values.contains(where: { $0.remote == address })
        else { return }
        let placeholder = OutgoingConnect()
        // Bound to a specific address, connect from it too: peers tell each other apart by IP.
        let host = listenAddress.host
        let local = host == "0.0.0.0" || host == "::" || address.isIPv6 != listenAddress.isIPv6 ? nil : SocketAddress(host: host, port: 0)
        let connection = connector.openConnection(to: address, from: local, timeout: .seconds(10), handler: placeholder)
        let peer = PeerConnection(session: self, key: newKey(), connection: connection, outgoing: torrent)
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

    /// Once a second: every torrent with work moves on; rates are sampled.
    private func tick() {
        let now = loop.now
        for (infoHash, torrent) in ticking {
            torrent.tick(now: now)
            if !torrent.needsTick { ticking.removeValue(forKey: infoHash) }
        }
        rateSamples.append((now, uploadedBytes, downloadedBytes))
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
