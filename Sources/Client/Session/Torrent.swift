import Reactor
import TorrentCore

/// A torrent in a session: its verified pieces, its peers, the choker that picks whom to serve,
/// and, while pieces are missing, the download that fetches them (`TorrentDownload`).
public final class Torrent {
    /// The torrent.
    public let metainfo: Metainfo
    /// Where its files are.
    public let location: ContentLocation
    /// The pieces we have (verified).
    public private(set) var have: Bitfield
    let peerConfiguration: PeerSessionConfiguration
    unowned let session: Session
    /// The session's block reader, held directly: it is asked once per block served.
    private let blocks: BlockReader
    private var peers: [ObjectIdentifier: PeerConnection] = [:]
    private var choker: Choker
    private var random = SystemRandomNumberGenerator()
    private var timers: [TimerHandle] = []
    /// Payload bytes uploaded since start.
    public private(set) var uploadedBytes: Int64 = 0
    /// The download, while wanted pieces are missing.
    private(set) var download: TorrentDownload?
    /// Called once when every wanted piece is verified and on disk.
    public var downloadFinished: (() -> Void)?

    init(session: Session, metainfo: Metainfo, location: ContentLocation, have: Bitfield, download options: DownloadOptions?) {
        self.session = session
        blocks = session.blocks
        self.metainfo = metainfo
        self.location = location
        self.have = have
        var configuration = PeerSessionConfiguration(
            pieceLength: metainfo.info.pieceLength, totalLength: metainfo.info.totalLength)
        configuration.listenPort = Int(session.listenAddress.port)
        peerConfiguration = configuration
        choker = Choker(slots: session.options.unchokeSlots, algorithm: session.options.choker)
        if let options {
            let download = TorrentDownload(torrent: self, have: have, options: options)
            if !download.isFinished {
                self.download = download
                choker = Choker(slots: options.unchokeSlots, algorithm: .titForTat)
                download.finished = { [weak self] in self?.finishedDownloading() }
            } else {
                download.stop()
            }
        }
        timers.append(session.loop.scheduleRepeating(every: Choker.rechokeInterval) { [weak self] in self?.rechoke() })
        timers.append(session.loop.scheduleRepeating(every: .seconds(5)) { [weak self] in self?.upkeep() })
        if download != nil {
            timers.append(session.loop.scheduleRepeating(every: .seconds(1)) { [weak self] in self?.tick() })
        }
    }

    /// Connected peers past the handshake.
    public var peerCount: Int { peers.count }
    /// Peers that want data.
    public var interestedCount: Int { peers.values.filter(\.isInterested).count }
    /// Peers being served.
    public var unchokedCount: Int { peers.values.filter(\.isUnchoked).count }
    /// Whether pieces are still being fetched.
    public var isDownloading: Bool { download != nil }
    /// Payload bytes accepted into pieces since start (less those of pieces that failed).
    public internal(set) var downloadedBytes: Int64 = 0
    /// Bytes of wanted pieces still missing.
    public var bytesLeft: Int64 { download?.picker.bytesLeft ?? 0 }
    /// Why the download is paused, if it is.
    public var pausedReason: String? { download?.pausedReason }
    /// Pieces that failed their hash check.
    public internal(set) var hashFailures = 0
    /// Addresses banned for sending bad data.
    public private(set) var bannedPeers: Set<String> = []

    func add(_ peer: PeerConnection) { peers[ObjectIdentifier(peer)] = peer }
    /// Whether `address` was banned for sending bad data.
    func isBanned(_ address: SocketAddress) -> Bool { bannedPeers.contains(address.host) }
    func isConnected(peerID: [UInt8]) -> Bool { peers.values.contains { $0.peerID == peerID } }

    /// Connects out to peers a tracker named, unless already connected to that address or full.
    /// Seeds reach leechers this way too; some clients (transmission 3) ignore loopback and
    /// private peers from trackers but accept incoming connections from them.
    public func connect(to addresses: [SocketAddress]) {
        for address in addresses where !peers.values.contains(where: { $0.remote == address }) && !isBanned(address) {
            guard peerCount + session.pendingOutgoing < session.options.maxPeersPerTorrent else { return }
            session.connectOut(to: address, for: self)
        }
    }
    /// A peer left: its pieces no longer count, and its outstanding requests go back to the picker.
    func remove(_ peer: PeerConnection, pieces: Bitfield?, released: [BlockRequest]) {
        guard peers.removeValue(forKey: ObjectIdentifier(peer)) != nil else { return }
        guard let download else { return }
        if let pieces { download.picker.peerLost(pieces) }
        if !released.isEmpty { requestsLost(released) }
    }
    func uploaded(_ bytes: Int) { uploadedBytes += Int64(bytes) }

    /// A newly interested peer is unchoked at once if a slot is free, instead of waiting for the
    /// next rechoke round.
    func interestChanged(_ peer: PeerConnection) {
        if peer.isInterested {
            if let slots = choker.slots, unchokedCount >= slots { return }
            peer.unchokedSince = session.loop.now
            peer.setChoking(false)
        } else if peer.isUnchoked {
            peer.setChoking(true)
            peer.unchokedSince = nil
            peer.waitingSince = session.loop.now
        }
    }

    /// Queues `request`'s block on `connection`, `header` first, if every byte of it is in the
    /// page cache. A part that is not comes back as `.cold`: warm it (`session.blocks.warm`) and
    /// try again. Never waits for the disk.
    func queueBlock(_ request: BlockRequest, header: [UInt8], on connection: any Connection) -> BlockQueueing {
        let start = Int64(request.piece.value) * Int64(metainfo.info.pieceLength) + Int64(request.offset)
        let range = start..<start + Int64(request.length)
        // Most blocks lie within one file: no arrays on the way.
        if let span = location.layout.span(within: range), !location.isPadding[span.file.value] {
            switch prepare(span) {
            case .ready(let block): return write(block, header: header, on: connection)
            case .cold(let block): return .cold(block)
            case .failed(let error): return .failed(error)
            }
        }
        var parts: [BlockPart] = []
        for span in location.layout.spans(covering: range) {
            if location.isPadding[span.file.value] {
                parts.append(.zeros(span.length))
                continue
            }
            switch prepare(span) {
            case .ready(let block): parts.append(.file(block))
            case .cold(let block): return .cold(block)
            case .failed(let error): return .failed(error)
            }
        }
        return queue(parts, header: header, on: connection)
    }

    private func prepare(_ span: FileSpan) -> BlockReader.Readiness {
        blocks.prepare(path: location.paths[span.file.value], offset: span.offset, length: span.length)
    }

    private func queue(_ parts: [BlockPart], header: [UInt8], on connection: any Connection) -> BlockQueueing {
        var header = header
        for part in parts {
            switch part {
            case .file(let block):
                if case .failed(let error) = write(block, header: header, on: connection) { return .failed(error) }
            case .zeros(let count):
                connection.write(header + [UInt8](repeating: 0, count: count))
            }
            header = []
        }
        return .queued
    }

    private func write(_ block: FileBlock, header: [UInt8], on connection: any Connection) -> BlockQueueing {
        guard connection.write(header: header, block: block) else {
            return .failed(SystemError(errno: 5 /* EIO */, operation: "queue block", path: block.file.path))
        }
        return .queued
    }

    // MARK: - Downloading

    /// A peer announced pieces: count them, and become interested if it has something we want.
    func peerGained(_ peer: PeerConnection, pieces: Bitfield) {
        guard let download else { return }
        download.picker.peerGained(pieces)
        if !peer.amInterested && download.picker.isInterested(in: pieces) { peer.setInterested(true) }
    }

    /// A peer announced one piece.
    func peerGained(_ peer: PeerConnection, piece: PieceIndex) {
        guard let download else { return }
        download.picker.peerGained(piece)
        if !peer.amInterested && download.picker.wants(piece) { peer.setInterested(true) }
    }

    /// A block arrived from `peer`.
    func blockArrived(from peer: PeerConnection, _ request: BlockRequest, _ data: ArraySlice<UInt8>) {
        guard let download else { return }
        switch download.picker.blockArrived(request) {
        case .unwanted:
            break  // an endgame duplicate, or a straggler of a piece that failed
        case .accepted(let complete, let elsewhere):
            peer.received(bytes: data.count)
            if elsewhere {
                for other in peers.values where other !== peer { other.cancel(request) }
            }
            download.store(request, data, from: peer.remote.host, pieceComplete: complete)
        }
    }

    /// Requests that will not be answered go back to the picker; idle peers may take them.
    func requestsLost(_ requests: [BlockRequest]) {
        guard let download else { return }
        for request in requests { download.picker.requestLost(request) }
        refillAll()
    }

    /// Tops up `peer`'s request pipeline if it unchoked us and we want something it has.
    func fillRequests(_ peer: PeerConnection) {
        guard let download, download.pausedReason == nil, peer.amInterested, !peer.peerChoking,
            let pieces = peer.peerPieces
        else { return }
        // Requests go out in batches (a quarter of the pipeline, up to 16): fewer picks and
        // fewer, fuller writes than one request per block received.
        let depth = peer.requestDepth
        let room = depth - peer.outstandingCount
        guard room > 0, room >= min(16, max(1, depth / 4)) || peer.outstandingCount == 0 else { return }
        let picked = download.picker.pick(for: pieces, count: room, outstanding: peer.outstanding, random: &random)
        if !picked.isEmpty {
            peer.sendRequests(picked)
        } else if peer.outstandingCount == 0 && !download.picker.isInterested(in: pieces) {
            peer.setInterested(false)
        }
    }

    /// Gives every unchoked peer a chance to take open blocks (after a loss or a failed piece).
    func refillAll() {
        for peer in Array(peers.values) where peer.amInterested && !peer.peerChoking { fillRequests(peer) }
    }

    /// A piece was verified and written: tell every peer.
    func pieceCompleted(_ piece: PieceIndex) {
        have[piece] = true
        for peer in Array(peers.values) { peer.weGotPiece(piece) }
    }

    /// Bans `host` and closes every connection from it.
    func ban(_ host: String, reason: PeerError) {
        bannedPeers.insert(host)
        for peer in Array(peers.values) where peer.remote.host == host { peer.drop(reason) }
    }

    private func finishedDownloading() {
        guard let download else { return }
        session.log.info("download_finished", [("torrent", metainfo.info.name), ("downloaded", downloadedBytes)])
        download.stop()
        download.closeFiles()
        self.download = nil
        choker = Choker(slots: session.options.unchokeSlots, algorithm: session.options.choker)
        for peer in Array(peers.values) { peer.becameSeedOrDone(isSeed: have.isFull) }
        downloadFinished?()
    }

    /// Writes the resume file now (at exit); `completion` runs when it is on disk.
    public func saveResume(completion: @escaping () -> Void) {
        guard let download else {
            completion()
            return
        }
        download.saveResume(completion: completion)
    }

    /// Every 10 s: the choker decides whom to serve.
    private func rechoke() {
        let now = session.loop.now
        let list = Array(peers.values)
        let candidates = list.enumerated().map { index, peer in
            ChokeCandidate(
                id: index, isInterested: peer.isInterested, isUnchoked: peer.isUnchoked, unchokedSince: peer.unchokedSince,
                waitingSince: peer.waitingSince,
                uploadRate: Int(peer.uploadedSinceRechoke / Int64(Choker.rechokeInterval.components.seconds)),
                progress: peer.progress,
                downloadRate: Int(peer.downloadedSinceRechoke / Int64(Choker.rechokeInterval.components.seconds)))
        }
        let unchoke = choker.rechoke(candidates, now: now, random: &random)
        for (index, peer) in list.enumerated() {
            peer.uploadedSinceRechoke = 0
            peer.downloadedSinceRechoke = 0
            let on = unchoke.contains(index)
            if on && !peer.isUnchoked {
                peer.unchokedSince = now
                peer.setChoking(false)
            } else if !on && peer.isUnchoked {
                peer.unchokedSince = nil
                peer.waitingSince = now
                peer.setChoking(true)
            }
        }
    }

    private func upkeep() {
        for peer in Array(peers.values) { peer.upkeep() }
    }

    /// Once a second: request depths follow each peer's rate.
    private func tick() {
        for peer in peers.values { peer.sampleRate() }
        refillAll()
    }

    /// Stops the timers and closes every peer.
    func stop() {
        download?.stop()
        for timer in timers { timer.cancel() }
        timers = []
        for peer in Array(peers.values) { peer.connection?.close() }
    }
}

@available(*, unavailable)
extension Torrent: Sendable {}

