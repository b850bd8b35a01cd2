import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// How a session listens and serves.
public struct SessionOptions: Sendable {
    /// Where peers connect.
    public var listen = SocketAddress(host: "0.0.0.0", port: 6881)!
    /// Peers across all torrents (the descriptor limit caps it too).
    public var maxPeers = 18_000
    /// Peers per torrent.
    public var maxPeersPerTorrent = 18_000
    /// Connections one address may open to us at once (the rest of the slots stay for others).
    public var maxPeersPerAddress = 4
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
    /// Upload and download caps for the whole session, in bytes per second.
    public var uploadLimit: Int?
    public var downloadLimit: Int?
    /// The pace of announces across torrents and tracker hosts.
    public var announceLimits = AnnounceThrottle.Limits()
    /// Peer exchange (BEP 11) with peers of public torrents.
    public var pexEnabled = true
    /// Encryption (MSE/PE) of peer connections.
    public var encryption = EncryptionPolicy.preferred
    /// Local service discovery (BEP 14): public torrents announced to the local network's
    /// multicast group, and peers heard there taken. Off by default, as in Transmission.
    public var lsdEnabled = false

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
    /// The real loop, for the services only libevent provides (tracker HTTP, UDP and DNS); nil
    /// in tests on virtual time, where torrents do not announce.
    public var loop: EventLoop?

    /// Everything on `loop`.
    public init(loop: EventLoop) {
        scheduler = loop
        offloader = loop
        connector = loop
        self.loop = loop
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
    /// The loop's time.
    var now: ContinuousClock.Instant { loop.now }
    /// Addresses refused both ways (`setBlocklist`).
    public private(set) var blocklist = Blocklist()
    let connector: any Connector
    public internal(set) var options: SessionOptions
    let log: Log
    /// Our BEP 20 peer id, the same in handshakes and tracker announces.
    public let peerID: [UInt8]
    /// Seeds for each torrent's generators, drawn from the system once (not a system call per torrent).
    var seeds: SplitMix64
    /// The disk layer every torrent shares.
    let disk: DiskIO
    /// Tracker clients and the embedded tracker, with a real loop.
    let trackers: SessionTrackers?
    /// Outgoing connections not yet past the handshake, in all.
    private var halfOpen = 0
    /// Dial attempts at once, across all torrents (connects that have not answered yet).
    public static let maxHalfOpen = 64
    private var listener: Listener?
    private(set) var torrents: [InfoHash: Torrent] = [:]
    /// Magnets whose metadata is being fetched (Session+Magnets).
    var fetches: [InfoHash: MetadataFetch] = [:]
    /// Local service discovery, while enabled (Session+LocalDiscovery).
    var lsd: LocalServiceDiscovery?
    /// Torrents and magnets by `HASH('req2', info hash)` once an incoming encrypted handshake
    /// needed it (`encryptionIndex`, PeerEncryption.swift).
    var encryptionIndexBuilt: [[UInt8]: InfoHash]?
    /// Connections opened or closed since the last 5 s check, the checks since the heap was last
    /// trimmed, and the trims still due after the last burst.
    var connectionsSinceTrim = 0
    var trimChecks = 0
    var settleTrims = 0
    /// The options box the last torrent got, for the next with equal options (`shared`).
    var lastOptions: Box<TorrentOptions>?
    /// Torrents the tick visits: those with peers or a download.
    private var ticking: [InfoHash: Torrent] = [:]
    var connections = PeerTable()
    private var nextKey = 0
    private var timers: [TimerHandle] = []
    /// The session's caps, once one was set (connections join it then; until then none pays
    /// for a bucket).
    private var rateGroup: RateLimitGroup?
    private(set) var eventLoop: EventLoop?
    private var lastLimitLog: ContinuousClock.Instant?
    private var rateSamples: [(time: ContinuousClock.Instant, up: Int64, down: Int64)] = []
    private(set) var isShutDown = false
    /// Torrents added since the last turn, started together.
    private var starting: [Torrent] = []
    private var startTask: TimerHandle?
    private var ticks = 0
    /// Whether incoming peers are taken (until `listen` is closed by a shutdown).
    private var listenerOpen = true
    /// The session's counters, kept as things happen.
    public internal(set) var stats = SessionStats()
    /// What to do with each BEP 10 extension's messages, by name (`ExtensionTable.supported`
    /// lists the names offered to peers; ut_metadata and ut_pex register here).
    var extensionHandlers: [String: (Torrent, PeerConnection, [UInt8]) -> Void] = [:]
    /// Peers dropped, by `PeerError.label`.
    public var droppedByReason: [String: Int] { stats.peersDropped }
    /// Disk work so far.
    public var diskStats: DiskStats { disk.stats }
    /// Told of each disk operation's time from request to result.
    public var diskLatencyObserved: ((DiskOperation, Duration) -> Void)? {
        get { disk.latencyObserved }
        set { disk.latencyObserved = newValue }
    }
    /// Peers whose serving waits for a block read from disk now (visits every connection).
    public var peersWaitingOnDisk: Int { connections.values.reduce(0) { $0 + ($1.isWaitingOnDisk ? 1 : 0) } }
    /// Announces by how their tracker host answered: answered, failed (unreachable, timing out,
    /// 5xx), and deferred (not sent: the host was backing off).
    public var announceOutcomes: (answered: Int, failed: Int, deferred: Int) {
        guard let pace = trackers?.pace else { return (0, 0, 0) }
        return (pace.answered, pace.failed, pace.refused)
    }
    /// The torrents with peers or work now (the tick's set).
    public var activeTorrents: [Torrent] { Array(ticking.values) }
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
        seeds = SplitMix64(seed: generator.next())
        disk = DiskIO(offloader: environment.offloader, openFiles: options.openFiles, payloadMode: options.payloadMode)
        let scheduler = environment.scheduler
        disk.clock = { [unowned scheduler] in scheduler.now }
        trackers = environment.loop.map { SessionTrackers(loop: $0, limits: options.announceLimits) }
        timers.append(loop.scheduleRepeating(every: .seconds(1)) { [weak self] in self?.tick() })
        extensionHandlers["ut_metadata"] = { [unowned self] torrent, peer, payload in self.serveMetadata(torrent, peer, payload) }
        extensionHandlers["ut_pex"] = { [unowned self] torrent, peer, payload in self.receivePex(torrent, peer, payload) }
        // Peers come and go; give the heap they used back every half minute, and within five
        // seconds of a burst of connections (their handshakes' buffers leave free pages behind:
        // 5,000 idle peers sat at 2.29 KiB each before a trim and 1.89 after).
        timers.append(loop.scheduleRepeating(every: .seconds(5)) { [weak self] in self?.releaseMemoryIfDue() })
    }

    /// A session on `loop`, listening on `options.listen`.
    public convenience init(loop: EventLoop, options: SessionOptions, log: Log) throws(SystemError) {
        self.init(environment: SessionEnvironment(loop: loop), options: options, log: log)
        eventLoop = loop
        if options.uploadLimit != nil || options.downloadLimit != nil {
            setRateLimits(upload: options.uploadLimit, download: options.downloadLimit)
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
        if let trackers, !trackers.openUDP(on: listenAddress) {
            log.info("udp_port_busy", [("port", listenAddress.port), ("detail", "UDP trackers are announced to from another port")])
        }
        listener.acceptErrorObserved = { [unowned self] error in self.logLimit("accept failed: \(error)") }
        if options.lsdEnabled { lsd = LocalServiceDiscovery(session: self, loop: loop) }
    }

    /// Starts the embedded HTTP tracker on `address`, every torrent of the session registered
    /// with it as a seed reachable at `host`; returns its announce URL.
    public func startEmbeddedTracker(on address: SocketAddress, host: String) throws(SystemError) -> String {
        guard let trackers else { throw SystemError(errno: EINVAL, operation: "start the embedded tracker without a loop") }
        let url = try trackers.startEmbedded(on: address, host: host, log: log)
        // Reach leechers as they announce (transmission 3 ignores loopback peers from trackers).
        trackers.embedded?.leecherAnnounced = { [weak self] infoHash, address in
            self?.torrents[infoHash]?.addPeers([address], from: .tracker)
        }
        for torrent in torrents.values { trackers.register(torrent.metainfo.infoHash, peerID: peerID, port: listenAddress.port) }
        return url
    }

    /// Adds a torrent with the pieces already verified; with `download`, the missing wanted
    /// pieces are fetched from peers too. A torrent already in the session is returned as is.
    @discardableResult
    public func add(_ metainfo: Metainfo, location: ContentLocation, have: Bitfield, download: DownloadOptions? = nil) -> Torrent {
        var options = TorrentOptions()
        options.download = download
        return add(metainfo, location: location, have: have, options: options)
    }

    /// Adds a torrent whose data is hash-checked first, on the hash pool (`phase` shows the
    /// progress; the loop never waits); it runs as `options` say once the check is done.
    @discardableResult
    public func add(_ metainfo: Metainfo, location: ContentLocation, options: TorrentOptions) -> Torrent {
        add(metainfo, location: location, checked: nil, options: options)
    }

    /// Adds a torrent with the pieces already verified, run as `options` say: it starts
    /// announcing and dialling on the next loop turn.
    @discardableResult
    public func add(_ metainfo: Metainfo, location: ContentLocation, have: Bitfield, options: TorrentOptions) -> Torrent {
        add(metainfo, location: location, checked: have, options: options)
    }

    /// Makes room for `count` more torrents at once (a daemon restoring thousands).
    public func reserveCapacity(torrents count: Int) { torrents.reserveCapacity(torrents.count + count) }

    /// Hash-checks a torrent's data again (its peers are closed meanwhile).
    public func verify(_ infoHash: InfoHash) {
        guard let torrent = torrents[infoHash] else { return }
        ticking.removeValue(forKey: infoHash)
        torrent.check()
    }

    func add(
        _ metainfo: Metainfo, location: ContentLocation, checked have: Bitfield?, options: TorrentOptions, sources: PeerSources? = nil
    ) -> Torrent {
        if let existing = torrents[metainfo.infoHash] { return existing }
        let torrent = Torrent(session: self, metainfo: metainfo, location: location, have: have, options: options, sources: sources)
        torrents[metainfo.infoHash] = torrent
        indexForEncryption(metainfo.infoHash)
        if torrent.needsTick { ticking[metainfo.infoHash] = torrent }
        trackers?.register(metainfo.infoHash, peerID: peerID, port: listenAddress.port)
        // Torrents added in one go start together on the next turn: one task, not one each.
        if starting.isEmpty {
            startTask = loop.schedule(after: .zero) { [weak self] in self?.startAdded() }
        }
        starting.append(torrent)
        return torrent
    }

    private func startAdded() {
        let batch = starting
        starting = []
        startTask = nil
        for torrent in batch where torrents[torrent.metainfo.infoHash] === torrent { torrent.start() }
    }

    /// Takes a torrent out of the session: its peers are closed, its trackers hear `stopped`,
    /// and nothing of it runs any more.
    public func remove(_ infoHash: InfoHash) {
        guard let torrent = torrents.removeValue(forKey: infoHash) else { return }
        ticking.removeValue(forKey: infoHash)
        indexForEncryption(infoHash)
        torrent.stop(.requested)
    }

    /// Stops a torrent (peers closed, resume file written, `stopped` announced); it stays in the
    /// session. `completion` runs when all is done, or without `waitForTrackers` once its data is
    /// at rest (files may then be moved).
    public func stop(_ infoHash: InfoHash, waitForTrackers: Bool = true, completion: @escaping () -> Void = {}) {
        guard let torrent = torrents[infoHash] else { return completion() }
        ticking.removeValue(forKey: infoHash)
        torrent.stop(.requested, waitForTrackers: waitForTrackers, completion: completion)
    }

    /// Changes the session's caps (nil: none) for every connection, open or to come.
    public func setRateLimits(upload: Int?, download: Int?) {
        options.uploadLimit = upload
        options.downloadLimit = download
        let limit = RateLimit(readBytesPerSecond: download, writeBytesPerSecond: upload)
        if let rateGroup { return rateGroup.update(limit) }
        guard upload != nil || download != nil, let eventLoop else { return }
        let group = RateLimitGroup(loop: eventLoop, limit: limit)
        rateGroup = group
        for peer in connections.values { peer.connection?.join(group) }
    }

    /// Refuses peers whose address is on `list`, both ways, from now on; connections already open
    /// from such an address are closed. An empty list refuses nobody.
    public func setBlocklist(_ list: Blocklist) {
        blocklist = list
        guard !list.isEmpty else { return }
        for peer in Array(connections.values) where list.contains(ip: peer.remote.ip) { peer.drop(.blocklisted) }
    }

    /// Whether `address` is on the blocklist, in or out; each refusal is counted. Admission and
    /// every dialling loop ask here, so a list set later covers peers named before it.
    func refusesBlocklisted(_ address: SocketAddress) -> Bool {
        guard blocklist.contains(ip: address.ip) else { return false }
        stats.refusedBlocklisted += 1
        return true
    }

    /// Changes the encryption policy for connections made from now on.
    public func setEncryption(_ policy: EncryptionPolicy) { options.encryption = policy }

    /// Turns peer exchange on or off (for connections made from now on; open ones stop sending).
    public func setPexEnabled(_ enabled: Bool) { options.pexEnabled = enabled }

    /// Changes the peer limits (connections beyond them are not closed; no new ones come).
    public func setPeerLimits(global: Int, perTorrent: Int) {
        options.maxPeers = max(1, global)
        options.maxPeersPerTorrent = max(1, perTorrent)
    }

    /// Changes a torrent's own caps and peer limit (nil: none beyond the session's).
    public func setTorrentLimits(_ infoHash: InfoHash, upload: Int?, download: Int?, peers: Int?) {
        guard let torrent = torrents[infoHash] else { return }
        torrent.options.uploadLimit = upload
        torrent.options.downloadLimit = download
        torrent.options.maxPeers = peers
        torrent.shareRateLimits()
    }

    /// Changes which pieces a torrent fetches (0 skips one, higher first; nil: all alike).
    public func setPiecePriorities(_ infoHash: InfoHash, _ priorities: [UInt8]?) {
        guard let torrent = torrents[infoHash] else { return }
        precondition(priorities == nil || priorities?.count == torrent.metainfo.info.pieceCount)
        torrent.setPiecePriorities(priorities)
    }

    /// Changes a torrent's seeding limits (nil: none); they apply from the next tick.
    public func setSeedLimits(_ infoHash: InfoHash, ratio: Double?, idle: Duration?) {
        guard let torrent = torrents[infoHash] else { return }
        torrent.options.seedRatioLimit = ratio
        torrent.options.seedIdleLimit = idle
        if torrent.phase == .running { ticking[infoHash] = torrent }
    }

    /// Announces a torrent to its trackers now.
    public func reannounce(_ infoHash: InfoHash) { torrents[infoHash]?.sources.reannounce() }

    /// Runs a stopped torrent again.
    public func start(_ infoHash: InfoHash) { torrents[infoHash]?.resume() }

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
        status.uploadedBytes = stats.uploadedBytes
        status.downloadedBytes = stats.downloadedBytes
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

    func countUploaded(_ bytes: Int) { stats.uploadedBytes += Int64(bytes) }
    func countWire(uploaded: Int, downloaded: Int) {
        stats.wireUploadedBytes &+= Int64(uploaded)
        stats.wireDownloadedBytes &+= Int64(downloaded)
    }
    func countDownloaded(_ bytes: Int64) { stats.downloadedBytes += bytes }

    /// Stops at once: no more peers, every connection closed, the tick and the pools stopped.
    /// Nothing is announced and no resume file written (`shutdown(completion:)` does both).
    public func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        listener?.close()
        listener = nil
        lsd?.close()
        lsd = nil
        for timer in timers { timer.cancel() }
        timers = []
        startTask?.cancel()
        starting = []
        for fetch in fetches.values { fetch.cancel() }
        fetches = [:]
        for torrent in torrents.values {
            torrent.checker?.cancel()
            torrent.closePeers()
        }
        for peer in Array(connections.values) { peer.connection?.close() }
        trackers?.close()
        disk.shutdown()
    }

    /// The orderly stop: no new peers; every downloading torrent's resume file is written (its
    /// data synced first); peers are closed; every tracker hears `stopped` (each waits at most a
    /// few seconds); then the session shuts down and `completion` runs.
    public func shutdown(completion: @escaping () -> Void) {
        guard !isShutDown else { return completion() }
        listenerOpen = false
        listener?.close()
        listener = nil
        let running = torrents.values.filter { $0.phase == .running || $0.checker != nil }
        var waiting = running.count + 1
        let one = { [weak self] in
            waiting -= 1
            guard waiting == 0 else { return }
            self?.shutdown()
            completion()
        }
        for torrent in running { torrent.stop(.requested, completion: one) }
        one()
    }

    func accept(_ connection: any Connection) -> (any ConnectionHandler)? {
        guard !isShutDown, listenerOpen, connections.count < options.maxPeers else {
            logLimit("peer limit \(options.maxPeers) reached; refusing \(connection.remoteAddress)")
            return nil
        }
        guard !refusesBlocklisted(connection.remoteAddress) else { return nil }
        // One address cannot take the slots that other peers need.
        guard connections.incoming(from: connection.remoteAddress.host) < options.maxPeersPerAddress else {
            stats.refusedPerAddress += 1
            logLimit("\(options.maxPeersPerAddress) connections from \(connection.remoteAddress.host) already; refusing another")
            return nil
        }
        if let rateGroup { connection.join(rateGroup) }
        let peer = PeerConnection(session: self, key: newKey(), connection: connection)
        connections.insert(peer, incoming: true)
        stats.connectionsAccepted += 1
        connectionsSinceTrim += 1
        return peer
    }

    func newKey() -> PeerKey {
        nextKey += 1
        return PeerKey(nextKey)
    }

    func connectionClosed(_ peer: PeerConnection, reason: CloseReason) {
        connectionsSinceTrim += 1
        guard connections.remove(peer) else { return }
        // An encrypted attempt the peer did not take: plaintext at once, when the policy allows.
        if let torrent = peer.outgoingTorrent, !peer.joined, peer.encryptionFailed, options.encryption == .preferred, !isShutDown {
            halfOpen -= 1
            torrent.pendingDials -= 1
            stats.encryptionFallbacks += 1
            log.debug("encryption_fallback", [("peer", peer.remote)])
            return connectOut(to: peer.remote, for: torrent, plaintext: true)
        }
        if let torrent = peer.outgoingTorrent {
            if !peer.joined && !peer.handedOver {
                halfOpen -= 1
                torrent.pendingDials -= 1
                stats.dialFailures += 1
            }
            torrent.dialEnded(peer.remote, joined: peer.joined, error: peer.dropError)
        }
        if case .connectFailed = reason { log.debug("connect_failed", [("peer", peer.remote), ("reason", reason)]) }
    }

    /// An outgoing connection finished its handshake.
    func outgoingJoined(_ peer: PeerConnection) {
        guard !peer.handedOver else { return }  // a fetch's: never counted as half-open here
        halfOpen -= 1
        peer.outgoingTorrent?.pendingDials -= 1
    }

    /// How many more dials may start now, across all torrents.
    var dialBudget: Int {
        guard !isShutDown else { return 0 }
        return min(Self.maxHalfOpen - halfOpen, options.maxPeers - connections.count)
    }

    /// A peer was dropped for breaking the protocol (or being banned, or a seed like us).
    func peerDropped(_ error: PeerError) { stats.peersDropped[error.label, default: 0] += 1 }

    /// `torrent` has work for the tick (a peer joined).
    func torrentNeedsTick(_ torrent: Torrent) { ticking[torrent.metainfo.infoHash] = torrent }

    /// Opens a connection to `address` for `torrent`; encrypted as the policy says unless
    /// `plaintext` (the fallback after a failed encrypted attempt).
    func connectOut(to address: SocketAddress, for torrent: Torrent, plaintext: Bool = false) {
        guard !isShutDown, connections.count < options.maxPeers, !connections.isConnected(address) else { return }
        halfOpen += 1
        torrent.pendingDials += 1
        stats.dialAttempts += 1
        let placeholder = OutgoingConnect()
        let connection = connector.openConnection(to: address, from: localAddress(toward: address), timeout: .seconds(10), handler: placeholder)
        let peer = PeerConnection(session: self, key: newKey(), connection: connection, outgoing: torrent)
        peer.encryptsOut = !plaintext && options.encryption != .tolerated
        connection.handler = peer
        placeholder.peer = peer
        if let rateGroup { connection.join(rateGroup) }
        connections.insert(peer, incoming: false)
    }

    /// Where to connect from: bound to a specific address, connect from it too (peers tell each
    /// other apart by IP).
    func localAddress(toward address: SocketAddress) -> SocketAddress? {
        let host = listenAddress.host
        return host == "0.0.0.0" || host == "::" || address.isIPv6 != listenAddress.isIPv6 ? nil : SocketAddress(host: host, port: 0)
    }

    /// Logs a limit being hit, at most once every 10 s.
    func logLimit(_ message: String) {
        let now = loop.now
        if let last = lastLimitLog, now - last < .seconds(10) { return }
        lastLimitLog = now
        log.warn("limit_reached", [("detail", message)])
    }

    /// Once a second: every torrent with work moves on; rates are sampled; every 10 minutes the
    /// embedded tracker hears of this session's torrents again.
    private func tick() {
        let now = loop.now
        ticks += 1
        if ticks % 600 == 0, let trackers {
            for torrent in torrents.values { trackers.register(torrent.metainfo.infoHash, peerID: peerID, port: listenAddress.port) }
        }
        for (infoHash, torrent) in ticking {
            torrent.tick(now: now)
            if !torrent.needsTick {
                ticking.removeValue(forKey: infoHash)
                torrent.stoppedTicking()
            }
        }
        rateSamples.append((now, stats.uploadedBytes, stats.downloadedBytes))
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
