import Client
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent daemon`: one Session for every torrent of the box, driven over the Transmission
/// RPC. The config directory holds settings.json, the torrents and their resume files; a restart
/// trusts resume data whose files are unchanged and checks the others on the hash pool, so the
/// RPC answers at once however many torrents there are.
public final class Daemon {
    /// The version string clients read: a Transmission version they accept (Sonarr wants at least
    /// 2.40), then ours.
    public static let version = "4.0.6 (evtorrent 0.2.0)"
    /// The RPC version of that Transmission version.
    static let rpcVersion = 17

    let loop: EventLoop
    let session: Session
    let config: ConfigDirectory
    var settings: DaemonSettings
    /// The home directory the defaults derive from.
    private let home: String
    let log: Log
    private var server: HTTPServer?
    /// Moves the download queue along (DownloadQueue.swift).
    private var queueTimer: TimerHandle?
    /// The current CSRF token.
    let sessionID: String
    /// Peers the open-file limit allows, with room kept for data files.
    private(set) var peerCapacity = Int.max
    var torrents: [Int: DaemonTorrent] = [:]
    /// Magnets whose metadata is not in yet (ids shared with `torrents`).
    var magnets: [Int: DaemonMagnet] = [:]
    var ids: [InfoHash: Int] = [:]
    /// Which torrent owns each data file, to refuse a torrent that would write another's.
    var fileOwners = FileOwners()
    /// Download folders and tracker tiers, kept once for all torrents that have them alike.
    let shared = SharedValues()
    /// Ids removed recently, for `recently-active` lists (the web client drops them).
    var removed: [(id: Int, at: ContinuousClock.Instant)] = []
    private var nextID = 1
    let startedAt: ContinuousClock.Instant
    /// File deletions, web files and other blocking work the RPC asks for.
    let filePool = WorkerPool(threads: 1)
    /// Compressing large replies (off the loop, apart from the file work).
    let replyPool = WorkerPool(threads: 1)
    /// The web client's files.
    let webRoot: WebRoot
    /// `/metrics`.
    private(set) lazy var metrics = DaemonMetrics(daemon: self)
    /// `watch-dir`.
    private lazy var watch = WatchDirectory(daemon: self)

    /// A daemon over `configDirectory`, with `overrides` (command-line options) over its
    /// settings.json; listens for peers and for RPC clients.
    public init(configDirectory: String, overrides: [(String, JSON)], home: String, webRoot: String, log: Log) throws(DaemonError) {
        self.webRoot = WebRoot(webRoot)
        self.home = home
        config = ConfigDirectory(path: configDirectory)
        try config.prepare()
        var settings = try DaemonSettings.load(config.settings, home: home)
        for (key, value) in overrides { settings[key] = value }
        _ = settings.protectPassword()
        self.settings = settings
        self.log = log
        do { try settings.save(config.settings) } catch { throw .configDirectory(configDirectory, error) }
        var random = SystemRandomNumberGenerator()
        sessionID = (0..<24).map { _ in String(UInt8.random(in: 0...35, using: &random), radix: 36) }.joined()
        do { loop = try EventLoop() } catch { throw .session("cannot start the event loop: \(error)") }
        var options = SessionOptions()
        let bind = settings.string("bind-address-ipv4")
        options.listen = SocketAddress(host: bind.isEmpty ? "0.0.0.0" : bind, port: UInt16(clamping: settings.integer("peer-port")))!
        // Every peer is a descriptor, and so is every open data file and RPC connection: the peers
        // may take what the limit leaves after the file cache, the RPC's cap and a margin (18,000
        // peers under a 20,000 limit once left too few to open files with, and reads failed).
        // The allocator keeps freed memory as `seed` does: at glibc's default the heap was given
        // back and faulted in again hundreds of times a second under 18,000 peers.
        peerCapacity = SessionHost.peerRoom(capacity: SessionHost.prepareProcess(), openFiles: options.openFiles)
        options.maxPeers = min(max(16, settings.integer("peer-limit-global")), peerCapacity)
        if settings.integer("peer-limit-global") > peerCapacity {
            log.warn("peer_limit_lowered", [
                ("peer-limit-global", settings.integer("peer-limit-global")), ("to", peerCapacity),
                ("detail", "the open-file limit allows no more; raise it (LimitNOFILE in the systemd unit)"),
            ])
        }
        options.maxPeersPerTorrent = max(1, settings.integer("peer-limit-per-torrent"))
        options.maxPeersPerAddress = max(1, settings.integer("peer-limit-per-address"))
        options.pexEnabled = settings.bool("pex-enabled")
        options.lsdEnabled = settings.bool("lpd-enabled")
        options.encryption = EncryptionPolicy(transmissionValue: settings.integer("encryption")) ?? .preferred
        (options.uploadLimit, options.downloadLimit) = Self.rateLimits(settings)
        do { session = try Session(loop: loop, options: options, log: log) } catch {
            throw .session("cannot listen for peers on \(options.listen): \(error) (set peer-port or --peer-port)")
        }
        startedAt = loop.now
        // The RPC port is taken before the torrents are loaded: a port in use fails at once, and
        // a client that connects meanwhile waits for its answer instead of being refused.
        let rpcAddress = SocketAddress(host: settings.string("rpc-bind-address"), port: UInt16(clamping: settings.integer("rpc-port")))
        guard let rpcAddress else { throw .rpcListen(settings.string("rpc-bind-address"), SystemError(errno: EINVAL, operation: "parse")) }
        do {
            server = try HTTPServer(loop: loop, address: rpcAddress, limits: HTTPServerLimits(maxBodyBytes: 32 << 20)) { [unowned self] request, responder in
                self.serve(request, responder)
            }
        } catch { throw .rpcListen(rpcAddress.description, error) }
        restore()
        _ = metrics  // starts measuring the loop's lag from now
        watch.apply(settings)
        loadBlocklists()
        queueTimer = loop.scheduleRepeating(every: .seconds(2)) { [weak self] in self?.updateDownloadQueue() }
    }

    /// Where RPC clients reach it.
    public var rpcAddress: SocketAddress? { server?.localAddress }
    /// Where peers reach it.
    public var peerAddress: SocketAddress { session.listenAddress }
    /// Torrents held.
    public var torrentCount: Int { torrents.count + magnets.count }

    /// Runs until SIGINT or SIGTERM, then stops in order: resume files, peers, `stopped` announces.
    public func run() {
        loop.watchSignal(SIGINT) { [unowned self] in self.stop() }
        loop.watchSignal(SIGTERM) { [unowned self] in self.stop() }
        loop.watchSignal(SIGHUP) { [unowned self] in self.reloadSettings() }
        loop.run()
        filePool.shutdown()
        replyPool.shutdown()
        guard stopping else { return }
        let pool = WorkerPool(threads: WorkerPool.coreCount)
        let order = torrents.values.sorted { ($0.addedDate, $0.id) < ($1.addedDate, $1.id) }.map(\.infoHash.hex)
        switch config.writeSnapshot(on: pool, order: order) {
        case .success(let count): log.info("snapshot_written", [("file", config.snapshotPath), ("files", count)])
        case .failure(let why): log.warn("snapshot_not_written", [("reason", why), ("detail", "the next start reads every torrent's files")])
        }
        pool.shutdown()
    }

    private var stopping = false

    /// The orderly stop (a signal, or `session-close`).
    func stop() {
        guard !stopping else { return }
        stopping = true
        server?.close()
        queueTimer?.cancel()
        session.shutdown { [loop] in loop.stop() }
    }

    /// SIGHUP: settings.json is read again; access rules, limits for new torrents and the watch
    /// directory follow at once, ports at the next start. A broken file is refused and the
    /// running settings stay.
    func reloadSettings() {
        do {
            settings = try DaemonSettings.load(config.settings, home: home)
            if settings.protectPassword() { try? saveSettings() }
            watch.apply(settings)
            loadBlocklists()
            log.warn("settings_reloaded", [("file", config.settings)])
        } catch {
            log.error("settings_reload_failed", [("reason", error)])
        }
    }

    /// The session's caps in bytes per second from settings.json's (kB/s, as Transmission's:
    /// 1000 bytes).
    static func rateLimits(_ settings: DaemonSettings) -> (upload: Int?, download: Int?) {
        (settings.bool("speed-limit-up-enabled") ? settings.integer("speed-limit-up") * 1000 : nil,
         settings.bool("speed-limit-down-enabled") ? settings.integer("speed-limit-down") * 1000 : nil)
    }

    /// Writes settings.json.
    func saveSettings() throws(SystemError) { try settings.save(config.settings) }

    // MARK: - Torrents

    /// The settings the torrents of this daemon run with.
    func torrentOptions() -> TorrentOptions {
        var options = TorrentOptions()
        var download = DownloadOptions()
        download.resume = config.resume
        options.download = download
        if settings.bool("ratio-limit-enabled") { options.seedRatioLimit = settings["ratio-limit"]?.doubleValue }
        if settings.bool("idle-seeding-limit-enabled") { options.seedIdleLimit = .seconds(60 * settings.integer("idle-seeding-limit")) }
        return options
    }

    /// Adds a torrent (or finds it already here). Its data is trusted from the resume file when no
    /// file changed, else checked on the hash pool; its files in the config directory are written
    /// on the file pool (the loop never waits for the fsyncs).
    func add(_ metainfo: Metainfo, bytes: [UInt8], downloadDirectory: String, paused: Bool, labels: [String]) -> (DaemonTorrent, duplicate: Bool) {
        if let id = ids[metainfo.infoHash], let existing = torrents[id] { return (existing, true) }
        let record = ConfigDirectory.Record(
            downloadDirectory: shared.string(downloadDirectory), addedDate: Int64(time(nil)), paused: paused, labels: labels)
        let config = self.config, infoHash = metainfo.infoHash
        inBackground("torrent_save_failed", metainfo.info.name) { () throws(SystemError) in try config.save(bytes, record, for: infoHash) }
        return (attach(metainfo, record: record), false)
    }

    /// Runs config-directory work on the file pool (one thread: in the order asked), logging a failure.
    func inBackground(_ event: String, _ name: String, _ work: @escaping @Sendable () throws(SystemError) -> Void) {
        loop.offload(to: filePool, { () -> SystemError? in
            do throws(SystemError) { try work() } catch { return error }
            return nil
        }) { [log] error in
            if let error { log.warn(event, [("torrent", name), ("error", error)]) }
        }
    }

    /// A fresh id.
    func takeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    /// `verdict`: what its resume file is worth, if already known. `torrent` and `id`: the engine's
    /// torrent and the id, when they exist already (a magnet's, its metadata just in).
    func attach(
        _ metainfo: Metainfo, record: ConfigDirectory.Record, verdict: ResumeStore.Verdict? = nil, location known: ContentLocation? = nil,
        torrent made: Torrent? = nil, id: Int? = nil
    ) -> DaemonTorrent {
        let location = known ?? ContentLocation(metainfo: metainfo, directory: record.downloadDirectory, names: record.names)
        let torrent = made ?? engineTorrent(metainfo, location: location, paused: record.paused, verdict: verdict)
        let entry = DaemonTorrent(
            id: id ?? takeID(), torrent: torrent, downloadDirectory: record.downloadDirectory, addedDate: record.addedDate, labels: record.labels)
        if record.names?.count == metainfo.info.files.count { entry.names = record.names }
        entry.settings = record.settings
        entry.queuePosition = torrents.count + magnets.count
        torrents[entry.id] = entry
        if entry.settings != TorrentSettings() { apply(entry) }
        ids[metainfo.infoHash] = entry.id
        for path in location.paths { fileOwners.claim(path, for: entry.id) }
        return entry
    }

    /// Puts a torrent into the session at `location`: its pieces trusted from the resume file
    /// when no file changed since, else checked on the hash pool.
    /// Without `trustResume` (files found by the user) it is checked whatever the resume file says.
    func engineTorrent(
        _ metainfo: Metainfo, location: ContentLocation, paused: Bool, trustResume: Bool = true, verdict known: ResumeStore.Verdict? = nil
    ) -> Torrent {
        let options = torrentOptions()
        let torrent: Torrent
        switch trustResume ? known ?? config.resume.verdict(metainfo, location: location) : .missing {
        case .trusted(let pieces):
            torrent = session.add(metainfo, location: location, have: pieces, options: options)
        case let verdict:
            if let why = verdict.recheckReason { log.warn("rechecking", [("torrent", metainfo.info.name), ("reason", why)]) }
            torrent = session.add(metainfo, location: location, options: options)
        }
        if paused { session.stop(metainfo.infoHash) }
        return torrent
    }

    /// Takes a torrent out; with `deleteData`, its own files (and the folders they leave empty)
    /// are deleted on a worker thread, nothing else.
    func remove(_ entry: DaemonTorrent, deleteData: Bool) {
        torrents.removeValue(forKey: entry.id)
        ids.removeValue(forKey: entry.infoHash)
        for other in torrents.values where other.queuePosition > entry.queuePosition { other.queuePosition -= 1 }
        for other in magnets.values where other.queuePosition > entry.queuePosition { other.queuePosition -= 1 }
        for path in entry.torrent.location.paths { fileOwners.release(path, from: entry.id) }
        removed.append((entry.id, loop.now))
        let location = entry.torrent.location
        session.remove(entry.infoHash)
        let config = self.config, infoHash = entry.infoHash
        inBackground("torrent_forget_failed", entry.torrent.metainfo.info.name) { config.forget(infoHash) }
        guard deleteData else { return }
        let root = entry.downloadDirectory
        loop.offload(to: filePool, { DataFiles.remove(location, below: root) }) { [log] failures in
            for failure in failures { log.warn("delete_failed", [("path", failure.path ?? "?"), ("error", failure)]) }
        }
    }

    /// What the config directory keeps of a torrent now.
    func record(of entry: DaemonTorrent) -> ConfigDirectory.Record {
        var record = ConfigDirectory.Record(
            downloadDirectory: entry.downloadDirectory, addedDate: entry.addedDate, paused: entry.torrent.phase.isStopped && !entry.isQueued,
            labels: entry.labels)
        record.names = entry.names
        record.settings = entry.settings
        record.queuePosition = entry.queuePosition
        return record
    }

    /// Records a torrent's state (paused or not, labels, where) so a restart keeps it so.
    func saveRecord(_ entry: DaemonTorrent) {
        let record = record(of: entry)
        let config = self.config, infoHash = entry.infoHash
        inBackground("record_save_failed", entry.torrent.metainfo.info.name) { () throws(SystemError) in
            try config.saveRecord(record, for: infoHash)
        }
    }

    /// Loads every torrent of the config directory.
    private func restore() {
        let snapshot = config.takeSnapshot { [log] why in log.warn("snapshot_ignored", [("file", config.snapshotPath), ("reason", why)]) }
        let files = ConfigFiles(root: config.path, snapshot: snapshot)
        let pool = WorkerPool(threads: WorkerPool.coreCount)
        var stored: [(DaemonTorrent, Int?)] = []
        var loaded = 0
        let found = { [self] (count: Int) in
            session.reserveCapacity(torrents: count)
            torrents.reserveCapacity(count)
            ids.reserveCapacity(count)
            fileOwners.reserveCapacity(count)
        }
        let skipped = { [log] (name: String, reason: String) in log.warn("torrent_skipped", [("file", name), ("reason", reason)]) }
        config.load(files, on: pool, sharing: shared, found: found, skipped: skipped) { item in
            loaded += 1
            if let target = item.record.moveTo {
                finishInterruptedMove(item.metainfo, record: item.record, to: target)
            } else {
                let entry = attach(item.metainfo, record: item.record, verdict: item.verdict, location: item.location)
                stored.append((entry, item.record.queuePosition))
            }
        }
        pool.shutdown()
        // The queue as it was left (records without a place keep their order, after the others).
        let ordered = stored.enumerated().sorted { ($0.element.1 ?? Int.max, $0.offset) < ($1.element.1 ?? Int.max, $1.offset) }
        for (position, item) in ordered.enumerated() { item.element.0.queuePosition = position }
        let magnets = config.loadMagnets(files, skipped: skipped)
        for (link, record) in magnets { _ = attachMagnet(link, record: record) }
        if loaded > 0 || !magnets.isEmpty {
            log.info("restored", [("torrents", loaded), ("magnets", magnets.count), ("from", snapshot == nil ? "files" : "snapshot")])
        }
        // Loading thousands of torrents leaves parsing garbage behind: give it back now rather
        // than at the next half-minute trim.
        ResourceLimits.releaseFreeMemory()
    }

    // MARK: - RPC transport

    private func serve(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let answer = RPCGate.admit(
            path: request.path, remoteHost: request.remoteAddress?.host ?? "", access: settings.access(sessionID: sessionID),
            header: request.header)
        switch answer {
        case .answer(let status, let headers, let body):
            responder.respond(HTTPServerResponse(status: status, headers: headers.map { ($0.name, $0.value) }, body: Array(body.utf8)))
        case .pass(.rpc):
            guard request.method == "POST" || !request.body.isEmpty else {
                return responder.respond(HTTPServerResponse(status: 405, body: Array("POST a JSON request".utf8)))
            }
            let gzip = ReplyCompression.acceptsGzip(request.header("Accept-Encoding"))
            handleRPC(request.body) { [loop, replyPool] body in
                guard let body else { return responder.respond(HTTPServerResponse(status: 204)) }
                let json = ("Content-Type", "application/json; charset=UTF-8")
                guard gzip, body.count >= ReplyCompression.minimumBytes else {
                    return responder.respond(HTTPServerResponse(status: 200, headers: [json], body: body))
                }
                loop.offload(to: replyPool, { ReplyCompression.gzip(body) }) { compressed in
                    guard let compressed else { return responder.respond(HTTPServerResponse(status: 200, headers: [json], body: body)) }
                    responder.respond(HTTPServerResponse(
                        status: 200, headers: [json, ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")], body: compressed))
                }
            }
        case .pass(.web(let path)):
            serveWeb(path, responder)
        case .pass(.metrics):
            responder.respond(HTTPServerResponse(
                status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: metrics.render()))
        }
    }

    /// A file of the web client, read on a worker (the loop never waits for the disk).
    private func serveWeb(_ path: String, _ responder: HTTPResponder) {
        switch webRoot.file(for: path) {
        case .failure(.noWebRoot):
            responder.respond(HTTPServerResponse(status: 404, body: Array(
                "404: the web client is not installed: apt-get install transmission-common, or give --web-root".utf8)))
        case .failure(.forbidden):
            responder.respond(HTTPServerResponse(status: 403, body: Array("403: Forbidden".utf8)))
        case .failure(.notFound):
            responder.respond(HTTPServerResponse(status: 404, body: Array("404: Not Found".utf8)))
        case .success(let file):
            loop.offload(to: filePool, { try? FileContents.read(file, limit: 16 << 20) }) { bytes in
                guard let bytes else { return responder.respond(HTTPServerResponse(status: 404, body: Array("404: Not Found".utf8))) }
                responder.respond(HTTPServerResponse(status: 200, headers: [("Content-Type", WebRoot.contentType(file))], body: bytes))
            }
        }
    }

    /// Parses, dispatches and encodes one RPC call; `reply` gets the body (nil: a notification).
    private func handleRPC(_ body: [UInt8], reply: @escaping ([UInt8]?) -> Void) {
        let parsed: RPCRequest.Body
        do { parsed = try RPCRequest.parsingBody(body) } catch { return reply(RPCReply.failure(error)) }
        switch parsed {
        case .one(let request): answer(request, reply: reply)
        case .batch(let entries): answerBatch(entries[...], answered: [], reply: reply)
        }
    }

    /// JSON-RPC 2.0 batch: each entry in turn, the answers in one array (notifications have
    /// none; a batch of only notifications gets no body).
    private func answerBatch(
        _ entries: ArraySlice<Result<RPCRequest, RPCFailure>>, answered: [[UInt8]], reply: @escaping ([UInt8]?) -> Void
    ) {
        guard let first = entries.first else {
            return reply(answered.isEmpty ? nil : RPCReply.batch(answered))
        }
        switch first {
        case .failure(let failure):
            answerBatch(entries.dropFirst(), answered: answered + [RPCReply.failure(failure)], reply: reply)
        case .success(let request):
            answer(request) { [unowned self] body in
                self.answerBatch(entries.dropFirst(), answered: answered + (body.map { [$0] } ?? []), reply: reply)
            }
        }
    }

    private func answer(_ request: RPCRequest, reply: @escaping ([UInt8]?) -> Void) {
        let arrived = loop.now
        perform(request) { [unowned self] result in
            self.metrics.rpcAnswered(request.method, after: self.loop.now - arrived)
            if request.isNotification { return reply(nil) }
            switch result {
            case .success(let arguments): reply(RPCReply.success(arguments, to: request, spelled: request.method == "torrent_get"))
            case .failure(var failure):
                failure.dialect = request.dialect
                failure.tag = request.tag
                reply(RPCReply.failure(failure))
            }
        }
    }
}

@available(*, unavailable)
extension Daemon: Sendable {}
