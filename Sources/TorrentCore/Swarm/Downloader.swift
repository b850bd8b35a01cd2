/// What the download decided; the engine carries it out. Imperatives, in the order given.
public enum DownloadAction: Equatable {
    /// Send these requests to the peer.
    case request(PeerKey, [BlockRequest])
    /// Withdraw this request from every peer but `except` (it delivered the block first: endgame).
    case cancel(BlockRequest, except: PeerKey)
    /// Tell the peer whether we want its data.
    case setInterested(PeerKey, Bool)
    /// Blocks came free: offer them to every peer that may take some (`fill` each).
    case refill
    /// The piece is whole: hash these bytes and report with `pieceHashed`.
    case verify(PieceIndex, [UInt8])
    /// The piece verified: write these bytes and report with `pieceWritten` or `writeFailed`.
    case write(PieceIndex, [UInt8])
    /// The piece is verified and on disk: tell every peer (Have) and count it.
    case have(PieceIndex)
    /// The piece failed its hash check; these hosts sent it.
    case hashFailed(PieceIndex, senders: [String])
    /// Close every connection from this host and refuse it from now on: it sent bad data twice.
    case ban(host: String)
    /// Requesting stopped: a write failed (the reason is for the user).
    case paused(String)
    /// Every failed write went through on retry: requesting goes on.
    case resumed
    /// Every wanted piece is verified and on disk.
    case finished
}

/// What the download needs to know of one peer's wire state when topping up its requests
/// (`PeerSession.downloadView`); the wire state stays the peer session's own.
public struct PeerDownloadView: Sendable {
    /// Whether we told the peer we are interested.
    public var amInterested: Bool
    /// Whether the peer refuses our requests.
    public var peerChoking: Bool
    /// The pieces it has.
    public var pieces: Bitfield
    /// Blocks asked of it and not yet received.
    public var outstanding: Set<BlockRequest>
    /// Whether it sat on our requests past the snub timeout.
    public var isSnubbed: Bool
    /// The most requests it accepts at once (its `reqq`).
    public var requestQueueLimit: Int

    /// A view with every fact given.
    public init(
        amInterested: Bool, peerChoking: Bool, pieces: Bitfield, outstanding: Set<BlockRequest>, isSnubbed: Bool,
        requestQueueLimit: Int
    ) {
        self.amInterested = amInterested
        self.peerChoking = peerChoking
        self.pieces = pieces
        self.outstanding = outstanding
        self.isSnubbed = isSnubbed
        self.requestQueueLimit = requestQueueLimit
    }
}

/// The download of one torrent, with no I/O: which blocks to ask which peer for, how deep each
/// peer's pipeline runs, interest, endgame cancels, assembling blocks into pieces, what to do
/// when a piece verifies or fails (smart ban), and the pause while writes fail.
///
/// Inputs say what happened (`peerJoined`, `peerHas`, `blockArrived`, `pieceHashed`,
/// `pieceWritten`, `writeFailed`, `tick`); each returns `[DownloadAction]`. Time is passed in.
/// A piece counts only once it verified and was written (`.have`).
public struct Downloader {
    /// Requests go out in batches of about a quarter of the pipeline, up to this many: fewer picks
    /// and fuller writes than one request per block received.
    public static let batch = 16
    /// Pipeline depth bounds: at least this many requests at a peer that is not snubbed...
    public static let minimumDepth = 16
    /// ...and at most this many, whatever its rate.
    public static let maximumDepth = 500
    /// Seconds of a peer's rate kept in its pipeline.
    public static let depthSeconds = 3
    /// How often failed writes are tried again while paused.
    public static let retryInterval: Duration = .seconds(10)

    private struct PeerFacts {
        let host: String
        var meter = RateMeter()
        var sinceRechoke: Int64 = 0
    }

    /// Which pieces are had, wanted, in progress, and how available.
    public private(set) var picker: PiecePicker
    private var peers: [PeerKey: PeerFacts] = [:]
    private var assembling: [PieceIndex: PieceAssembly] = [:]
    private var verifying: [PieceIndex: PieceAssembly] = [:]
    /// Verified pieces handed out for writing, kept until written (a failed write is retried).
    private var writing: [PieceIndex: [UInt8]] = [:]
    private var unwritten: [PieceIndex] = []
    private var retrying: Set<PieceIndex> = []
    private var lastRetry: ContinuousClock.Instant?
    private var smartBan = SmartBan()
    private var random: SplitMix64
    /// Why requesting is paused (a write failed); nil while running.
    public private(set) var pausedReason: String?
    /// Payload bytes accepted into pieces (less those of pieces that failed).
    public private(set) var downloadedBytes: Int64 = 0
    /// Pieces that failed their hash check.
    public private(set) var hashFailures = 0

    /// A download of the pieces `picker` wants; `seed` fixes its random choices.
    public init(picker: PiecePicker, seed: UInt64) {
        self.picker = picker
        random = SplitMix64(seed: seed)
    }

    /// Whether every wanted piece is verified and on disk.
    public var isFinished: Bool { picker.isFinished }
    /// Hosts banned for bad data.
    public var bannedHosts: Set<String> { smartBan.banned }
    /// A peer's smoothed receive rate, in bytes per second.
    public func downloadRate(of peer: PeerKey) -> Int { peers[peer]?.meter.rate ?? 0 }

    // MARK: - Peers

    /// A peer finished its handshake.
    public mutating func peerJoined(_ peer: PeerKey, host: String) { peers[peer] = PeerFacts(host: host) }

    /// A peer left: its pieces stop counting and the requests it held go back to the picker.
    public mutating func peerLeft(_ peer: PeerKey, pieces: Bitfield, released: [BlockRequest]) -> [DownloadAction] {
        guard peers.removeValue(forKey: peer) != nil else { return [] }
        picker.peerLost(pieces)
        return requestsLost(released)
    }

    /// A peer announced pieces (a bitfield, HaveAll, or a later bitfield's new bits).
    public mutating func peerHas(_ peer: PeerKey, pieces: Bitfield, amInterested: Bool) -> [DownloadAction] {
        picker.peerGained(pieces)
        return !amInterested && picker.isInterested(in: pieces) ? [.setInterested(peer, true)] : []
    }

    /// A peer announced one piece (Have).
    public mutating func peerHas(_ peer: PeerKey, piece: PieceIndex, amInterested: Bool) -> [DownloadAction] {
        picker.peerGained(piece)
        return !amInterested && picker.wants(piece) ? [.setInterested(peer, true)] : []
    }

    /// Requests that will not be answered (choke, reject, snub, a peer gone) go back; idle peers
    /// may take them.
    public mutating func requestsLost(_ requests: [BlockRequest]) -> [DownloadAction] {
        guard !requests.isEmpty else { return [] }
        for request in requests { picker.requestLost(request) }
        return [.refill]
    }

    /// Tops up `peer`'s request pipeline if it unchoked us and has something we want; drops
    /// interest once it has nothing more and nothing is outstanding.
    public mutating func fill(_ peer: PeerKey, _ view: PeerDownloadView) -> [DownloadAction] {
        guard pausedReason == nil, view.amInterested, !view.peerChoking else { return [] }
        let depth = requestDepth(peer, view)
        let outstanding = view.outstanding.count
        let room = depth - outstanding
        guard room > 0, room >= min(Self.batch, max(1, depth / 4)) || outstanding == 0 else { return [] }
        let picked = picker.pick(for: view.pieces, count: room, outstanding: view.outstanding, random: &random)
        if !picked.isEmpty { return [.request(peer, picked)] }
        if outstanding == 0 && !picker.isInterested(in: view.pieces) { return [.setInterested(peer, false)] }
        return []
    }

    /// How many requests to keep at `peer`: about three seconds of its rate, at least 16, at most
    /// what it accepts and 500; one while it is snubbed.
    public func requestDepth(_ peer: PeerKey, _ view: PeerDownloadView) -> Int {
        if view.isSnubbed { return 1 }
        let rate = peers[peer]?.meter.rate ?? 0
        let wanted = max(Self.minimumDepth, rate * Self.depthSeconds / PiecePicker.blockLength)
        return min(view.requestQueueLimit, Self.maximumDepth, wanted)
    }

    /// Payload accepted from `peer` since the last call (the choker's download rate), reset.
    public mutating func takeBytesSinceRechoke(_ peer: PeerKey) -> Int64 {
        guard let bytes = peers[peer]?.sinceRechoke else { return 0 }
        peers[peer]!.sinceRechoke = 0
        return bytes
    }

    // MARK: - Blocks and pieces

    /// A block arrived from `peer`. A wanted one is copied into its piece; the piece is handed
    /// out for hashing once whole.
    public mutating func blockArrived(from peer: PeerKey, _ request: BlockRequest, _ data: ArraySlice<UInt8>)
        -> [DownloadAction]
    {
        guard let host = peers[peer]?.host, data.count == request.length else { return [] }
        guard case .accepted(let complete, let elsewhere) = picker.blockArrived(request) else {
            return []  // an endgame duplicate, or a straggler of a piece that failed
        }
        peers[peer]!.meter.add(data.count)
        peers[peer]!.sinceRechoke += Int64(data.count)
        var actions: [DownloadAction] = elsewhere ? [.cancel(request, except: peer)] : []
        let piece = request.piece
        let assembly = assembling[piece] ?? PieceAssembly(length: picker.length(of: piece))
        assembling[piece] = assembly
        assembly.store(data, at: request.offset, from: host)
        downloadedBytes += Int64(data.count)
        if complete, let whole = assembling.removeValue(forKey: piece) {
            verifying[piece] = whole
            actions.append(.verify(piece, whole.bytes))
        }
        return actions
    }

    /// The hash check of `piece` came back.
    public mutating func pieceHashed(_ piece: PieceIndex, ok: Bool) -> [DownloadAction] {
        guard let assembly = verifying.removeValue(forKey: piece) else { return [] }
        if ok {
            writing[piece] = assembly.bytes
            return [.write(piece, assembly.bytes)] + smartBan.pieceVerified(piece, good: assembly.bytes).map { .ban(host: $0) }
        }
        hashFailures += 1
        downloadedBytes -= Int64(assembly.bytes.count)
        picker.pieceFailed(piece)
        let senders = assembly.senders
        let banned = smartBan.pieceFailed(piece, assembly)
        return [.hashFailed(piece, senders: senders)] + banned.map { .ban(host: $0) } + [.refill]
    }

    /// `piece` is on disk: it counts now.
    public mutating func pieceWritten(_ piece: PieceIndex) -> [DownloadAction] {
        guard writing.removeValue(forKey: piece) != nil else { return [] }
        picker.pieceVerified(piece)
        var actions: [DownloadAction] = [.have(piece)]
        actions += retryFinished(piece)
        if picker.isFinished { actions.append(.finished) }
        return actions
    }

    /// Writing `piece` failed: requesting pauses, the piece stays in memory and is written again
    /// every `retryInterval` until that works.
    public mutating func writeFailed(_ piece: PieceIndex, reason: String, now: ContinuousClock.Instant) -> [DownloadAction] {
        guard writing[piece] != nil else { return [] }
        unwritten.append(piece)
        retrying.remove(piece)
        let newly = pausedReason == nil
        pausedReason = reason
        if newly { lastRetry = now }
        return newly ? [.paused(reason)] : []
    }

    private mutating func retryFinished(_ piece: PieceIndex) -> [DownloadAction] {
        guard retrying.remove(piece) != nil, retrying.isEmpty, unwritten.isEmpty, pausedReason != nil else { return [] }
        pausedReason = nil
        return [.resumed, .refill]
    }

    // MARK: - Wanted pieces

    /// The wanted pieces changed (files selected or skipped): each peer's interest follows, and
    /// the download is finished if nothing wanted is missing any more. `peers` are the connected
    /// peers with their pieces and whether we are interested in them now.
    public mutating func setPriorities(_ priorities: [UInt8], peers: [(key: PeerKey, pieces: Bitfield, amInterested: Bool)]) -> [DownloadAction] {
        picker.setPriorities(priorities)
        var actions: [DownloadAction] = []
        for peer in peers {
            let wants = picker.isInterested(in: peer.pieces)
            if wants != peer.amInterested { actions.append(.setInterested(peer.key, wants)) }
        }
        actions.append(picker.isFinished ? .finished : .refill)
        return actions
    }

    // MARK: - Time

    /// Once a second: rates move on, pipelines follow them, and failed writes are tried again.
    public mutating func tick(now: ContinuousClock.Instant) -> [DownloadAction] {
        for key in peers.keys { peers[key]!.meter.sample() }
        var actions: [DownloadAction] = []
        if pausedReason != nil, retrying.isEmpty, !unwritten.isEmpty, let last = lastRetry,
            now - last >= Self.retryInterval
        {
            lastRetry = now
            for piece in unwritten { actions.append(.write(piece, writing[piece]!)) }
            retrying = Set(unwritten)
            unwritten = []
        }
        if pausedReason == nil { actions.append(.refill) }
        return actions
    }
}
