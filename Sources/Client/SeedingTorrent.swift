import Reactor
import TorrentCore

/// A torrent being served: its verified pieces, its peers, and the choker that picks whom to serve.
public final class SeedingTorrent {
    /// The torrent.
    public let metainfo: Metainfo
    /// Where its files are.
    public let location: ContentLocation
    /// The pieces we have (verified).
    public private(set) var have: Bitfield
    let peerConfiguration: PeerSessionConfiguration
    private unowned let session: Session
    private var peers: [ObjectIdentifier: PeerConnection] = [:]
    private var choker: Choker
    private var random = SystemRandomNumberGenerator()
    private var timers: [TimerHandle] = []
    /// Payload bytes uploaded since start.
    public private(set) var uploadedBytes: Int64 = 0

    init(session: Session, metainfo: Metainfo, location: ContentLocation, have: Bitfield) {
        self.session = session
        self.metainfo = metainfo
        self.location = location
        self.have = have
        var configuration = PeerSessionConfiguration(
            pieceLength: metainfo.info.pieceLength, totalLength: metainfo.info.totalLength)
        configuration.listenPort = Int(session.listenAddress.port)
        peerConfiguration = configuration
        choker = Choker(slots: session.options.unchokeSlots, algorithm: session.options.choker)
        timers.append(session.loop.scheduleRepeating(every: Choker.rechokeInterval) { [weak self] in self?.rechoke() })
        timers.append(session.loop.scheduleRepeating(every: .seconds(5)) { [weak self] in self?.upkeep() })
    }

    /// Connected peers past the handshake.
    public var peerCount: Int { peers.count }
    /// Peers that want data.
    public var interestedCount: Int { peers.values.filter(\.isInterested).count }
    /// Peers being served.
    public var unchokedCount: Int { peers.values.filter(\.isUnchoked).count }

    func add(_ peer: PeerConnection) { peers[ObjectIdentifier(peer)] = peer }
    func isConnected(peerID: [UInt8]) -> Bool { peers.values.contains { $0.peerID == peerID } }

    /// Connects out to peers a tracker named, unless already connected to that address or full.
    /// Seeds reach leechers this way too; some clients (transmission 3) ignore loopback and
    /// private peers from trackers but accept incoming connections from them.
    public func connect(to addresses: [SocketAddress]) {
        for address in addresses where !peers.values.contains(where: { $0.remote == address }) {
            guard peerCount + session.pendingOutgoing < session.options.maxPeersPerTorrent else { return }
            session.connectOut(to: address, for: self)
        }
    }
    func remove(_ peer: PeerConnection) { peers.removeValue(forKey: ObjectIdentifier(peer)) }
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

    /// The file ranges (or padding) that hold `request`, ready to queue; `completion` may run at once.
    func fetchBlocks(for request: BlockRequest, completion: @escaping (Result<[BlockPart], SystemError>) -> Void) {
        let start = Int64(request.piece.value) * Int64(metainfo.info.pieceLength) + Int64(request.offset)
        let spans = location.layout.spans(covering: start..<start + Int64(request.length))
        collect(spans[...], into: [], completion: completion)
    }

    private func collect(
        _ spans: ArraySlice<FileSpan>, into parts: [BlockPart], completion: @escaping (Result<[BlockPart], SystemError>) -> Void
    ) {
        guard let span = spans.first else {
            completion(.success(parts))
            return
        }
        if location.isPadding[span.file.value] {
            collect(spans.dropFirst(), into: parts + [.zeros(span.length)], completion: completion)
            return
        }
        session.blocks.block(path: location.paths[span.file.value], offset: span.offset, length: span.length) { [weak self] in
            switch $0 {
            case .success(let block): self?.collect(spans.dropFirst(), into: parts + [.file(block)], completion: completion)
            case .failure(let error): completion(.failure(error))
            }
        }
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
                progress: peer.progress)
        }
        let unchoke = choker.rechoke(candidates, now: now, random: &random)
        for (index, peer) in list.enumerated() {
            peer.uploadedSinceRechoke = 0
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

    /// Stops the timers and closes every peer.
    func stop() {
        for timer in timers { timer.cancel() }
        timers = []
        for peer in Array(peers.values) { peer.connection?.close() }
    }
}

@available(*, unavailable)
extension SeedingTorrent: Sendable {}
