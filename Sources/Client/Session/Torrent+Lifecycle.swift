import Reactor
import TorrentCore

// A torrent's life in the session: where its peers come from and how they are dialled, start
// and stop, the hash check, and the seeding limits that stop it by themselves.
extension Torrent {
    /// Dials `addresses` (as peers given by hand) within the session's limits, unless already
    /// connected or banned.
    public func connect(to addresses: [SocketAddress]) { addPeers(addresses, from: .manual) }

    /// Adds peers a source named and dials what the limits allow. Seeds reach leechers this way
    /// too; some clients (transmission 3) ignore loopback and private peers from trackers but
    /// accept incoming connections from them.
    public func addPeers(_ addresses: [SocketAddress], from source: PeerSource) {
        sources.add(addresses.filter { !isBanned($0) }, from: source)
        dial()
    }

    /// Dials candidates from the peer list within the session's budget.
    func dial() {
        guard phase == .running, sources.hasCandidates else { return }
        session.torrentNeedsTick(self)
        let room = peerLimit - peerCount - pendingDials
        let budget = min(room, session.dialBudget)
        guard budget > 0 else { return }
        for address in sources.nextCandidates(budget, now: session.loop.now) {
            if isConnected(to: address) {
                sources.connected(address)
            } else if session.refusesBlocklisted(address) {
                sources.disconnected(address, forget: true, now: session.loop.now)
            } else {
                session.connectOut(to: address, for: self)
            }
        }
    }

    /// An outgoing connection for this torrent ended before or after its handshake.
    func dialEnded(_ address: SocketAddress, joined: Bool, error: PeerError?) {
        guard joined else {
            sources.attemptFailed(address, now: session.loop.now)
            return
        }
        let forget = error == .badData || error == .bothSeeds || error == .connectedToSelf || error == .duplicatePeer
        sources.disconnected(address, forget: forget, now: session.loop.now)
    }

    // MARK: - Lifecycle

    /// Begins announcing and dialling (the session calls it once the torrent is in).
    func start() {
        guard phase == .running else { return }
        if !isDownloading { seedingSince = session.loop.now }
        if let trackers = session.trackers, !options.trackerTiers.isEmpty, !sources.isAnnouncing {
            let announcer = trackers.announcer(
                tiers: options.trackerTiers, infoHash: metainfo.infoHash, peerID: session.peerID,
                port: session.listenAddress.port, log: session.log
            ) { [unowned self] in (self.uploadedBytes, self.downloadedBytes, self.bytesMissing) }
            sources.startAnnouncing(announcer) { [weak self] in self?.dial() }
        }
        dial()
    }

    /// Stops: peers are closed, the resume file is written, trackers hear `stopped`; then
    /// (or, without `waitForTrackers`, once the resume file is written) `completion` runs.
    /// Nothing of it runs any more until `resume`.
    func stop(_ reason: StopReason, waitForTrackers: Bool = true, completion: @escaping () -> Void = {}) {
        if case .checking = phase {
            checker?.cancel()
            checker = nil
        } else if phase != .running {
            completion()
            return
        }
        phase = .stopped(reason)
        closePeers()
        let finish = { [weak self] in
            guard let self else { return completion() }
            if waitForTrackers {
                self.sources.stop(completion: completion)
            } else {
                self.sources.stop {}
                completion()
            }
        }
        saveResume(completion: finish)
        if reason != .requested { session.log.info("torrent_stopped", [("torrent", metainfo.info.name), ("reason", reason)]) }
        stopped?(reason)
    }

    /// Runs again after a stop.
    func resume() {
        guard case .stopped = phase else { return }
        guard isVerified else { return check() }
        phase = .running
        lastUploadSeen = nil
        start()
    }

    // MARK: - Checking

    /// Hash-checks the data on the hash pool (the loop never waits); `phase` shows the progress,
    /// and the torrent runs once it is done. A running torrent closes its peers and forgets its
    /// download first.
    func check() {
        checker?.cancel()
        // Peers we dialled are dialled again as soon as the check ends, not after a backoff (a
        // download checked again mid-way sat without peers).
        let dialled = peers.values.filter { $0.outgoingTorrent != nil }.map(\.remote)
        if !dialled.isEmpty { redialAfterCheck += dialled }
        closePeers()
        retireDownloader()
        // Until this check ends, what `have` says is not to be trusted (a stop meanwhile checks again).
        isVerified = false
        let count = metainfo.info.pieceCount
        phase = .checking(piecesDone: 0, of: count)
        let checker = Checker(
            metainfo: metainfo, location: location, disk: session.disk,
            progress: { [weak self] done in self?.phase = .checking(piecesDone: done, of: count) },
            completion: { [weak self] verified in self?.checked(verified) })
        self.checker = checker
        checker.start()
    }

    private func checked(_ verified: Bitfield) {
        checker = nil
        session.log.info("check_finished", [("torrent", metainfo.info.name), ("pieces", verified.setCount), ("of", verified.count)])
        phase = .running
        for address in redialAfterCheck { sources.release(address) }
        if holdsActivity { redialAfterCheck = [] }
        releaseActivityIfIdle()
        begin(with: verified)
        // What the check found is worth keeping: a restart trusts it while no file changes.
        storage.resumeDirty = true
        saveResume {}
        session.torrentNeedsTick(self)
        if isDownloading {
            // Seeds were dropped and forgotten when the download thought it was done (both
            // seeds): the peers given by hand and the trackers' are asked again.
            sources.retryManual()
            sources.reannounce()
        }
        start()
    }

    // MARK: - Seeding limits

    func checkSeedLimits(now: ContinuousClock.Instant) {
        guard !isDownloading, let since = seedingSince, phase == .running else { return }
        if let limit = options.seedRatioLimit, Double(uploadedBytes) / Double(max(metainfo.info.totalLength, 1)) >= limit {
            return stop(.ratioReached)
        }
        if let limit = options.seedTimeLimit, now - since >= limit { return stop(.seedTimeReached) }
        if let limit = options.seedIdleLimit {
            if lastUploadSeen?.bytes != uploadedBytes { lastUploadSeen = (uploadedBytes, now) }
            if let seen = lastUploadSeen, now - max(seen.at, since) >= limit { return stop(.idleReached) }
        }
    }

}
