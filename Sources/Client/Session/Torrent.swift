import Reactor
import TorrentCore

/// A torrent in a session: its verified pieces, its peers, its storage, and the pure swarm logic
/// that decides for it: `ChokeState` (whom to serve) and, while wanted pieces are missing, the
/// `Downloader` (what to ask whom for). This class only carries out their actions.
public final class Torrent {
    /// The torrent.
    public let metainfo: Metainfo
    /// The pieces we have (verified and on disk).
    public private(set) var have: Bitfield
    /// What each peer session of this torrent is told (made when asked: ten thousand idle
    /// torrents do not each keep one).
    var peerConfiguration: PeerSessionConfiguration {
        var configuration = PeerSessionConfiguration(pieceLength: metainfo.info.pieceLength, totalLength: metainfo.info.totalLength)
        configuration.listenPort = Int(session.listenAddress.port)
        configuration.metadataSize = metainfo.infoBytes.count
        // BEP 27: a private torrent's peers come from its tracker only.
        if !exchangesPeers { configuration.extensionNames = ExtensionTable.withoutPex }
        return configuration
    }
    /// The configuration the torrent's peer sessions share, made when the first peer joins and
    /// again only when it changes (a new listen port).
    var sharedPeerConfiguration: PeerSessionConfiguration.Shared {
        let current = peerConfiguration
        if let cached = activity.peerConfiguration, cached.value == current { return cached }
        let made = PeerSessionConfiguration.Shared(current)
        activity.peerConfiguration = made
        return made
    }
    /// The session outlives its torrents (it removes them before it goes): a plain pointer, see
    /// PeerConnection.session.
    unowned(unsafe) let session: Session
    /// Where its files are.
    public let location: ContentLocation
    /// Its data on disk (serving, hashing, writing, resume), made when first needed: a torrent
    /// no peer asked anything of, never checked and never written keeps none (144 bytes each).
    private var storageBox: TorrentStorage?
    var storage: TorrentStorage {
        if let storageBox { return storageBox }
        let download = options.download
        let made = TorrentStorage(
            metainfo: metainfo, location: location, disk: session.disk, preallocate: download?.preallocate ?? false,
            resume: download?.resume)
        storageBox = made
        return made
    }
    /// Whether its storage was made (tests: not until something needs it).
    var hasStorage: Bool { storageBox != nil }
    /// Its peers, dials, choke state and rates, while it has any (see `TorrentActivity`).
    private var activityBox: TorrentActivity?
    private var activity: TorrentActivity {
        if let activityBox { return activityBox }
        let made = TorrentActivity(up: uploadedBytes, down: downloadedBytes)
        activityBox = made
        return made
    }
    /// Drops the activity once nothing is left in it.
    func releaseActivityIfIdle() {
        if activityBox?.isIdle == true { activityBox = nil }
    }
    /// Whether it keeps activity now (tests: only while it has peers, dials or rates).
    var holdsActivity: Bool { activityBox != nil }
    var peers: [PeerKey: PeerConnection] {
        get { activityBox?.peers ?? [:] }
        _modify { yield &activity.peers }
    }
    private var peerIDs: [[UInt8]: PeerKey] {
        get { activityBox?.peerIDs ?? [:] }
        _modify { yield &activity.peerIDs }
    }
    var redialAfterCheck: [SocketAddress] {
        get { activityBox?.redialAfterCheck ?? [] }
        _modify { yield &activity.redialAfterCheck }
    }
    /// Whom to serve, while it has peers: made when the first peer joins, dropped when the last leaves.
    var choke: ChokeState {
        _read {
            if let state = activityBox?.choke { yield state } else { yield ChokeState(choker: freshChoker) }
        }
        _modify {
            let activity = self.activity
            if activity.choke == nil { activity.choke = ChokeState(choker: freshChoker) }
            yield &activity.choke!
        }
    }
    /// Whether it keeps choke state now (tests: only while it has peers).
    var holdsChokeState: Bool { activityBox?.choke != nil }
    /// The choker a torrent starts with: tit-for-tat while downloading, the session's while seeding.
    private var freshChoker: Choker {
        if isDownloading, let download = options.download { return Choker(slots: download.unchokeSlots, algorithm: .titForTat) }
        return Choker(slots: session.options.unchokeSlots, algorithm: session.options.choker)
    }
    /// The download, while wanted pieces are missing. Kept in a box: a seeding torrent (most of
    /// ten thousand) pays 8 bytes for it, not the download's 230.
    private var downloadBox: OutOfLine<Downloader>?
    /// The download in place, while downloading (`isDownloading`). A projection through the box:
    /// an Optional<Downloader> property copied the whole download to learn whether it was nil.
    private var downloader: Downloader {
        _read { yield downloadBox!.value }
        _modify { yield &downloadBox!.value }
    }
    private var random: SplitMix64
    /// Seconds since it was added, on the session's tick (rechoke and upkeep phases).
    private var ticks = 0
    var resumeInterval = 5
    var downloadedBefore: Int64 = 0
    var hashFailuresBefore = 0
    private var downloadedReported: Int64 = 0
    /// Payload bytes uploaded since start.
    public private(set) var uploadedBytes: Int64 = 0
    /// Payload bytes per second, up and down, smoothed over the last seconds (0 when idle).
    public var uploadRate: Int { activityBox?.uploadRate ?? 0 }
    public var downloadRate: Int { activityBox?.downloadRate ?? 0 }
    /// The one-torrent commands' callbacks, in a box only they make.
    private var callbackBox: TorrentCallbacks?
    private var callbacks: TorrentCallbacks {
        if let callbackBox { return callbackBox }
        let made = TorrentCallbacks()
        callbackBox = made
        return made
    }
    /// Called once when every wanted piece is verified and on disk.
    public var downloadFinished: (() -> Void)? {
        get { callbackBox?.downloadFinished }
        set { if newValue != nil || callbackBox != nil { callbacks.downloadFinished = newValue } }
    }
    /// Addresses banned for sending bad data.
    public private(set) var bannedPeers: Set<String> = []
    /// How the session runs it (seeding limits may change while it runs). In a box torrents added
    /// with equal options share (a daemon's torrents mostly run with the same): 8 bytes each, not
    /// 177. A change gives this torrent a box of its own.
    public internal(set) var options: TorrentOptions {
        _read { yield optionsBox.value }
        set { optionsBox = session.shared(newValue) }
    }
    private var optionsBox: Box<TorrentOptions>
    /// Whether it holds the very options box `other` holds (tests: equal options are kept once).
    func sharesOptions(with other: Torrent) -> Bool { optionsBox === other.optionsBox }
    /// Where its peers come from.
    let sources: PeerSources
    /// Whether it is running or stopped (and why).
    public internal(set) var phase = TorrentPhase.running
    /// Called when it stops by itself (a seeding limit) or is stopped.
    public var stopped: ((StopReason) -> Void)? {
        get { callbackBox?.stopped }
        set { if newValue != nil || callbackBox != nil { callbacks.stopped = newValue } }
    }
    var seedingSince: ContinuousClock.Instant?
    /// The upload total last seen and when, while an idle limit is watched: out of line, as most
    /// torrents watch none (8 bytes each, not 32).
    var lastUploadSeen: (bytes: Int64, at: ContinuousClock.Instant)? {
        get { uploadSeenBox?.value }
        set {
            if let newValue, let uploadSeenBox { uploadSeenBox.value = newValue } else { uploadSeenBox = newValue.map { OutOfLine($0) } }
        }
    }
    private var uploadSeenBox: OutOfLine<(bytes: Int64, at: ContinuousClock.Instant)>?
    /// Outgoing connections for it not yet past their handshake.
    var pendingDials: Int {
        get { activityBox?.pendingDials ?? 0 }
        set {
            activity.pendingDials = newValue
            if newValue == 0 { releaseActivityIfIdle() }
        }
    }
    /// The hash check running, while `phase` is `.checking`.
    var checker: Checker?
    /// Whether `have` came from a finished check or trusted resume data (a check cancelled by a
    /// stop leaves it false, and starting again checks first).
    var isVerified = false

    /// A torrent with `have` verified already, or (nil) to be hash-checked first.
    /// `sources` are a magnet fetch's, handed over (trackers announcing, peers known).
    init(
        session: Session, metainfo: Metainfo, location: ContentLocation, have: Bitfield?, options torrentOptions: TorrentOptions,
        sources handed: PeerSources? = nil
    ) {
        self.session = session
        random = SplitMix64(seed: session.seeds.next())
        self.metainfo = metainfo
        self.have = have ?? Bitfield(count: metainfo.info.pieceCount)
        optionsBox = session.shared(torrentOptions)
        if let handed {
            sources = handed
            handed.add(torrentOptions.peers, from: .manual)
        } else {
            sources = PeerSources(manual: torrentOptions.peers)
        }
        self.location = location
        handed?.handOver(totals: { [unowned self] in (self.uploadedBytes, self.downloadedBytes, self.bytesMissing) }, found: { [weak self] in self?.dial() })
        if let have { begin(with: have) } else { check() }
    }

    /// The pieces are known: downloading begins if wanted ones are missing.
    func begin(with verified: Bitfield) {
        have = verified
        isVerified = true
        guard let options = options.download else { return }
        var picker = PiecePicker(pieceLength: metainfo.info.pieceLength, totalLength: metainfo.info.totalLength, have: have)
        picker.sequential = options.sequential
        if let priorities = options.piecePriorities { picker.setPriorities(priorities) }
        guard !picker.isFinished else { return }
        downloadBox = OutOfLine(Downloader(picker: picker, seed: session.seeds.next()))
        resumeInterval = max(1, Int(options.resumeInterval.components.seconds))
        activityBox?.choke?.replaceChoker(freshChoker)
    }

    /// Connected peers past the handshake.
    public var peerCount: Int { peers.count }
    /// Peers it may have at once.
    public var peerLimit: Int { min(options.maxPeers ?? .max, session.options.maxPeersPerTorrent) }
    /// Each peer's share of its own rate caps, as last applied (nil: none).
    private var rateShare: RateLimit? {
        get { activityBox?.rateShare }
        set { if newValue != nil || activityBox != nil { activity.rateShare = newValue } }
    }
    /// Whether its own caps are (or were until now) split among its peers; most torrents have
    /// none and skip the work.
    private var ratesShared: Bool { rateShare != nil || options.uploadLimit != nil || options.downloadLimit != nil }
    /// Peers that want data.
    public var interestedCount: Int { choke.interestedCount }
    /// Peers being served.
    public var unchokedCount: Int { choke.unchokedCount }
    /// Whether pieces are still being fetched.
    public var isDownloading: Bool { downloadBox != nil }
    /// Whether the session's tick has anything to do here: peers, a download, addresses to dial,
    /// or a seeding limit to watch.
    var needsTick: Bool {
        guard phase == .running else { return false }
        return !peers.isEmpty || isDownloading || sources.hasCandidates || hasSeedLimit
    }
    private var hasSeedLimit: Bool {
        options.seedRatioLimit != nil || options.seedTimeLimit != nil || options.seedIdleLimit != nil
    }
    /// Bytes of verified pieces (every piece is a piece long but the last).
    public var verifiedBytes: Int64 {
        let info = metainfo.info
        var bytes = Int64(have.setCount) * Int64(info.pieceLength)
        if info.pieceCount > 0, have[PieceIndex(info.pieceCount - 1)] {
            bytes -= Int64(info.pieceLength) - Int64(info.layout.length(of: PieceIndex(info.pieceCount - 1)))
        }
        return bytes
    }
    /// Bytes of the pieces wanted (all unless files were skipped), and of those not had yet.
    public var wantedBytes: (total: Int64, missing: Int64) {
        let info = metainfo.info
        guard let priorities = options.download?.piecePriorities, priorities.count == info.pieceCount else {
            return (info.totalLength, info.totalLength - verifiedBytes)
        }
        var total: Int64 = 0, missing: Int64 = 0
        for piece in 0..<info.pieceCount where priorities[piece] > 0 {
            let length = Int64(info.layout.length(of: PieceIndex(piece)))
            total += length
            if !have[PieceIndex(piece)] { missing += length }
        }
        return (total, missing)
    }
    /// Bytes to fetch (wanted ones while downloading, else all not had): what trackers hear as `left`.
    public var bytesMissing: Int64 { downloadBox?.value.picker.bytesLeft ?? metainfo.info.totalLength - verifiedBytes }
    /// Payload bytes accepted into pieces since start (less those of pieces that failed).
    public var downloadedBytes: Int64 { downloadedBefore + (downloadBox?.value.downloadedBytes ?? 0) }
    /// Bytes of wanted pieces still missing.
    public var bytesLeft: Int64 { downloadBox?.value.picker.bytesLeft ?? 0 }
    /// Why the download is paused, if it is.
    public var pausedReason: String? { downloadBox?.value.pausedReason }
    /// Pieces that failed their hash check.
    public var hashFailures: Int { hashFailuresBefore + (downloadBox?.value.hashFailures ?? 0) }

    /// Whether `address` was banned for sending bad data.
    func isBanned(_ address: SocketAddress) -> Bool { bannedPeers.contains(address.host) }
    func isConnected(peerID: [UInt8]) -> Bool { peerIDs[peerID] != nil }
    /// Whether a connection to `address` is open (one lookup in the session's table: a tracker
    /// naming 10,000 peers once made every dial walk every peer).
    func isConnected(to address: SocketAddress) -> Bool { session.connections.isConnected(address) }

    // MARK: - Peers

    /// A peer finished its handshake.
    func add(_ peer: PeerConnection) {
        peers[peer.key] = peer
        if let id = peer.peerID { peerIDs[id] = peer.key }
        choke.peerJoined(peer.key, now: session.loop.now)
        downloadBox?.value.peerJoined(peer.key, host: peer.remote.host)
        if peer.outgoingTorrent != nil { sources.connected(peer.remote) }
        session.torrentNeedsTick(self)
        if ratesShared { shareRateLimits(force: true) }
    }

    /// This torrent's caps, split evenly among its peers (each connection gets its share as its
    /// own libevent bucket; the session's group caps the sum of all torrents). Called as peers
    /// come and on every tick.
    func shareRateLimits(force: Bool = false) {
        var share: RateLimit?
        if options.uploadLimit != nil || options.downloadLimit != nil {
            let count = max(1, peers.count)
            share = RateLimit(
                readBytesPerSecond: options.downloadLimit.map { max(1, $0 / count) },
                writeBytesPerSecond: options.uploadLimit.map { max(1, $0 / count) })
        }
        guard force || share != rateShare else { return }
        rateShare = share
        for peer in peers.values { peer.connection?.setRateLimit(share) }
    }

    /// Which pieces to fetch changed (0 skips a piece; nil wants all): a seed of what it wanted
    /// starts downloading again if more is wanted now, a download whose wanted pieces are all had
    /// finishes.
    func setPiecePriorities(_ priorities: [UInt8]?) {
        if options.download == nil { options.download = DownloadOptions() }
        options.download?.piecePriorities = priorities
        guard phase == .running, isVerified else { return }  // applied when the check ends
        let wanted = priorities ?? [UInt8](repeating: 1, count: metainfo.info.pieceCount)
        if isDownloading {
            let views = peers.compactMap { key, peer in peer.peerPieces.map { (key: key, pieces: $0, amInterested: peer.amInterested) } }
            perform(downloader.setPriorities(wanted, peers: views))
            return
        }
        begin(with: have)
        guard isDownloading else { return }
        seedingSince = nil
        for (key, peer) in peers {
            downloader.peerJoined(key, host: peer.remote.host)
            if let pieces = peer.peerPieces { perform(downloader.peerHas(key, pieces: pieces, amInterested: peer.amInterested)) }
        }
        perform([.refill])
        session.torrentNeedsTick(self)
    }

    /// A peer left: its pieces no longer count, and its outstanding requests go back to the picker.
    func remove(_ peer: PeerConnection, pieces: Bitfield, released: [BlockRequest]) {
        guard peers.removeValue(forKey: peer.key) != nil else { return }
        if let id = peer.peerID, peerIDs[id] == peer.key { peerIDs.removeValue(forKey: id) }
        choke.peerLeft(peer.key)
        if peers.isEmpty {
            activityBox?.choke = nil
            releaseActivityIfIdle()
        }
        guard isDownloading else { return }
        perform(downloader.peerLeft(peer.key, pieces: pieces, released: released))
    }

    func uploaded(_ bytes: Int) {
        uploadedBytes += Int64(bytes)
        session.countUploaded(bytes)
    }

    /// Tells the session's counters what the download accepted since the last report.
    func reportDownloaded() {
        let total = downloadedBytes
        session.countDownloaded(total - downloadedReported)
        downloadedReported = total
    }

    /// The peer said Interested or NotInterested.
    func interestChanged(_ peer: PeerConnection, interested: Bool) {
        perform(choke.interestChanged(peer.key, interested: interested, now: session.loop.now))
    }

    private func perform(_ actions: [ChokeAction]) {
        for action in actions {
            switch action {
            case .choke(let key): peers[key]?.setChoking(true)
            case .unchoke(let key): peers[key]?.setChoking(false)
            }
        }
    }

    // MARK: - Downloading

    /// A peer announced pieces.
    func peerGained(_ peer: PeerConnection, pieces: Bitfield) {
        guard isDownloading else { return }
        perform(downloader.peerHas(peer.key, pieces: pieces, amInterested: peer.amInterested))
    }

    /// A peer announced one piece.
    func peerGained(_ peer: PeerConnection, piece: PieceIndex) {
        guard isDownloading else { return }
        perform(downloader.peerHas(peer.key, piece: piece, amInterested: peer.amInterested))
    }

    /// A block arrived from `peer`.
    func blockArrived(from peer: PeerConnection, _ request: BlockRequest, _ data: ArraySlice<UInt8>) {
        guard isDownloading else { return }
        perform(downloader.blockArrived(from: peer.key, request, data))
    }

    /// Requests that will not be answered go back to the picker; idle peers may take them.
    func requestsLost(_ requests: [BlockRequest]) {
        guard isDownloading else { return }
        perform(downloader.requestsLost(requests))
    }

    /// Tops up `peer`'s request pipeline.
    func fillRequests(_ peer: PeerConnection) {
        guard isDownloading, let view = peer.downloadView else { return }
        perform(downloader.fill(peer.key, view))
    }

    func refillAll() {
        for peer in Array(peers.values) where peer.amInterested && !peer.peerChoking { fillRequests(peer) }
    }

    private func perform(_ actions: [DownloadAction]) {
        for action in actions {
            switch action {
            case .request(let key, let requests): peers[key]?.sendRequests(requests)
            case .cancel(let request, let except):
                for (key, peer) in peers where key != except { peer.cancel(request) }
            case .setInterested(let key, let interested): peers[key]?.setInterested(interested)
            case .refill: refillAll()
            case .verify(let piece, let bytes):
                storage.verify(piece, bytes) { [weak self] ok in self?.pieceHashed(piece, ok: ok) }
            case .write(let piece, let bytes):
                storage.write(piece, bytes) { [weak self] error in self?.pieceWriteEnded(piece, error: error) }
            case .have(let piece):
                have[piece] = true
                storage.resumeDirty = true
                for peer in Array(peers.values) { peer.weGotPiece(piece) }
            case .hashFailed(let piece, let senders):
                session.stats.hashFailures += 1
                session.log.info("hash_failed", [("piece", piece), ("peers", senders.joined(separator: ","))])
            case .ban(let host): ban(host)
            case .paused(let reason):
                session.log.error("download_paused", [("torrent", metainfo.info.name), ("reason", reason)])
            case .resumed:
                session.log.warn("download_resumed", [("torrent", metainfo.info.name)])
            case .finished: finish()
            }
        }
    }

    private func pieceHashed(_ piece: PieceIndex, ok: Bool) {
        guard isDownloading else { return }
        perform(downloader.pieceHashed(piece, ok: ok))
    }

    private func pieceWriteEnded(_ piece: PieceIndex, error: SystemError?) {
        guard isDownloading else { return }
        guard let error else {
            perform(downloader.pieceWritten(piece))
            return
        }
        perform(downloader.writeFailed(piece, reason: Self.pauseReason(error), now: session.loop.now))
    }

    /// What a failed write means to the user, and what to do.
    static func pauseReason(_ error: SystemError) -> String {
        error.isDiskFull
            ? "disk full writing \(error.path ?? "data"): free some space; downloading resumes by itself"
            : "cannot write \(error.path ?? "data"): \(error); fix it and downloading resumes by itself"
    }

    /// Bans `host` and closes every connection from it.
    private func ban(_ host: String) {
        guard bannedPeers.insert(host).inserted else { return }
        session.log.warn("peer_banned", [("peer", host), ("reason", "sent data that failed the hash check twice")])
        for peer in Array(peers.values) where peer.remote.host == host { peer.drop(.badData) }
    }

    /// Every wanted piece is on disk: create the empty files, save the resume file, and switch to
    /// seeding.
    private func finish() {
        storage.createEmptyFiles { [weak self] error in
            guard let self else { return }
            if let error { self.session.log.warn("create_failed", [("error", error)]) }
            // A file cut short while the download ran lost pieces it had counted: check again
            // and fetch what is missing rather than call the torrent complete.
            self.storage.damagedFiles(have: self.have) { [weak self] short in
                guard let self, self.isDownloading else { return }
                guard short.isEmpty else {
                    self.session.log.warn("files_shrank", [
                        ("torrent", self.metainfo.info.name), ("files", short.joined(separator: ", ")),
                        ("detail", "cut short while downloading; checking the data again"),
                    ])
                    return self.check()
                }
                self.storage.resumeDirty = true
                self.saveResume { [weak self] in self?.finishedDownloading() }
            }
        }
    }

    func finishedDownloading() {
        guard isDownloading else { return }
        reportDownloaded()
        session.log.info("download_finished", [("torrent", metainfo.info.name), ("downloaded", downloadedBytes)])
        retireDownloader()
        storage.closeFiles()
        activityBox?.choke?.replaceChoker(freshChoker)
        for peer in Array(peers.values) { peer.becameSeedOrDone(isSeed: have.isFull) }
        sources.completed()
        seedingSince = session.loop.now
        downloadFinished?()
        downloadFinished = nil
    }

    /// Ends the download, keeping what it counted.
    func retireDownloader() {
        guard let box = downloadBox else { return }
        downloadedBefore += box.value.downloadedBytes
        hashFailuresBefore += box.value.hashFailures
        downloadBox = nil
    }

    /// Writes the resume file now if anything changed since the last one (a torrent added with a
    /// resume store); `completion` runs when it is on disk.
    public func saveResume(completion: @escaping () -> Void) {
        // Without storage nothing was written or checked: nothing to save.
        guard let storageBox else { return completion() }
        storageBox.saveResume(resumeSnapshot, failed: { [weak self] error in
            self?.session.log.warn("resume_save_failed", [("error", error)])
        }, completion: completion)
    }

    private func resumeSnapshot() -> ResumeData {
        var snapshot = ResumeData(infoHash: metainfo.infoHash, pieces: have, files: [])
        snapshot.downloaded = downloadedBytes
        snapshot.uploaded = uploadedBytes
        // Unclean while a download writes (a crash now is checked for at the next start); clean
        // once stopping in order or once every wanted piece is in.
        snapshot.clean = !isDownloading || phase.isStopped || wantedBytes.missing == 0
        return snapshot
    }

    // MARK: - Time

    /// Once a second, from the session: request depths follow rates, failed writes are retried;
    /// every 5 s peers get their upkeep (keep-alive, idle and snub timeouts) and the resume file is
    /// saved; every 10 s the choker decides whom to serve.
    func tick(now: ContinuousClock.Instant) {
        ticks += 1
        sampleRates()
        if ratesShared { shareRateLimits() }
        if isDownloading {
            reportDownloaded()
            perform(downloader.tick(now: now))
        }
        if ticks % 5 == 0 {
            for peer in Array(peers.values) { peer.upkeep() }
            if exchangesPeers { exchangePeers(now: now) }
        }
        if isDownloading, ticks % resumeInterval == 0 { saveResume {} }
        if ticks % Int(Choker.rechokeInterval.components.seconds) == 0 { rechoke(now: now) }
        // Peers given by hand are named again while downloading (they may not have been up yet).
        if isDownloading, ticks % 10 == 0 { sources.retryManual() }
        if sources.hasCandidates { dial() }
        checkSeedLimits(now: now)
    }

    /// Without activity nothing moved: no peers sent or took payload since it went idle.
    private func sampleRates() {
        guard let activity = activityBox else { return }
        let up = uploadedBytes, down = downloadedBytes
        activity.uploadRate = (activity.uploadRate + Int(up - activity.lastRateSample.up)) / 2
        activity.downloadRate = max(0, (activity.downloadRate + Int(down - activity.lastRateSample.down)) / 2)
        activity.lastRateSample = (up, down)
        releaseActivityIfIdle()
    }

    /// The tick stops visiting it: nothing moves, so the rates are zero.
    func stoppedTicking() {
        guard let activity = activityBox else { return }
        activity.uploadRate = 0
        activity.downloadRate = 0
        activity.lastRateSample = (uploadedBytes, downloadedBytes)
        releaseActivityIfIdle()
    }

    private func rechoke(now: ContinuousClock.Instant) {
        guard activityBox?.choke != nil else { return }  // no peers
        var rates: [PeerKey: ChokeRates] = [:]
        for (key, peer) in peers {
            // Every peer's counters restart; only candidates need their rates.
            let downloaded = isDownloading ? downloader.takeBytesSinceRechoke(key) : 0
            let uploaded = peer.takeUploadedSinceRechoke()
            guard choke.isCandidate(key) else { continue }
            rates[key] = ChokeRates(uploaded: uploaded, downloaded: downloaded, progress: peer.progress)
        }
        perform(choke.rechoke(rates: rates, now: now, random: &random))
    }

    /// Closes every peer.
    func closePeers() {
        for peer in Array(peers.values) { peer.connection?.close() }
    }
}

@available(*, unavailable)
extension Torrent: Sendable {}
