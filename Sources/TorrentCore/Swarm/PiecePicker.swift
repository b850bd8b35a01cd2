/// What arrived with a block, as the picker sees it.
public enum BlockArrival: Equatable, Sendable {
    /// The first copy of a wanted block; `requestedElsewhere` means other peers were also asked
    /// for it (endgame) and should get a cancel.
    case accepted(pieceComplete: Bool, requestedElsewhere: Bool)
    /// A block we already have, did not ask for, or no longer want: discard it.
    case unwanted
}

/// Which pieces to download next, and which blocks of them to ask each peer for (BEP 3's piece
/// selection, libtorrent's picker): random pieces until a few are complete, then rarest first;
/// partly downloaded pieces before new ones; file priorities with 0 meaning skip; sequential as an
/// option; and an endgame that asks a second peer for blocks still outstanding once nothing is left
/// unrequested, so the last pieces do not trickle in from one slow peer.
///
/// Pure: peers are bitfields, requests are values. The caller reports what it sent, received,
/// lost and verified.
public struct PiecePicker: Sendable {
    /// The block size every client asks for (BEP 3 recommends 16 KiB; most refuse more).
    public static let blockLength = 16 << 10
    /// How many copies of one block may be outstanding in the endgame.
    public static let endgameCopies: UInt8 = 2

    /// Bytes per piece.
    public let pieceLength: Int
    /// Bytes in the torrent.
    public let totalLength: Int64
    /// The pieces verified.
    public private(set) var have: Bitfield
    /// Download pieces in order instead of rarest first.
    public var sequential = false
    /// How many pieces to pick at random before switching to rarest first (BEP 3: it gets a first
    /// complete piece, something to trade, sooner).
    public var randomFirstPieces = 4

    private var availability: [Int32]
    private var priority: [UInt8]
    private var maxPriority: UInt8 = 1
    /// Pieces with at least one block requested, until verified or failed: each block's state.
    private var partial: [PieceIndex: Partial] = [:]
    /// Wanted pieces with nothing requested yet.
    private var unstarted: Int
    /// Wanted pieces not yet verified.
    private var missing: Int
    /// Per availability, how many pieces could be started now at the top priority (wanted, not
    /// started): the rarest of them is the best a scan can find, so it stops there. Without it
    /// every new piece scanned the whole torrent when all were equally rare (every peer a seed):
    /// quadratic in the piece count.
    private var startable: [Int] = []

    /// One piece in progress: per block, 0 = open, 1...n = outstanding requests, `received`.
    private struct Partial: Sendable {
        var blocks: [UInt8]
        var open: Int
        var received = 0
        init(blockCount: Int) {
            blocks = [UInt8](repeating: 0, count: blockCount)
            open = blockCount
        }
        static let received: UInt8 = .max
        var isComplete: Bool { received == blocks.count }
    }

    /// A picker for a torrent of `totalLength` bytes in pieces of `pieceLength`, holding `have`.
    public init(pieceLength: Int, totalLength: Int64, have: Bitfield) {
        precondition(pieceLength > 0 && totalLength > 0)
        self.pieceLength = pieceLength
        self.totalLength = totalLength
        self.have = have
        let count = have.count
        availability = [Int32](repeating: 0, count: count)
        priority = [UInt8](repeating: 1, count: count)
        unstarted = count - have.setCount
        missing = unstarted
        recountStartable()
    }

    /// The number of pieces.
    public var pieceCount: Int { have.count }

    /// The length of `piece`.
    public func length(of piece: PieceIndex) -> Int {
        Int(min(Int64(pieceLength), totalLength - Int64(piece.value) * Int64(pieceLength)))
    }

    /// Blocks in `piece`.
    public func blockCount(of piece: PieceIndex) -> Int {
        (length(of: piece) + Self.blockLength - 1) / Self.blockLength
    }

    /// The request for block `block` of `piece`.
    public func request(piece: PieceIndex, block: Int) -> BlockRequest {
        Self.request(piece: piece, block: block, pieceLength: length(of: piece))
    }

    private static func request(piece: PieceIndex, block: Int, pieceLength: Int) -> BlockRequest {
        let offset = block * blockLength
        return BlockRequest(piece: piece, offset: offset, length: min(blockLength, pieceLength - offset))
    }

    // MARK: - What we want

    /// Sets each piece's priority: 0 skips it, higher is fetched first (default 1).
    public mutating func setPriorities(_ priorities: [UInt8]) {
        precondition(priorities.count == pieceCount)
        priority = priorities
        maxPriority = priorities.max() ?? 1
        unstarted = (0..<pieceCount).filter { wants(PieceIndex($0)) && partial[PieceIndex($0)] == nil }.count
        missing = (0..<pieceCount).filter { wants(PieceIndex($0)) }.count
        recountStartable()
    }

    /// The priority of `piece`.
    public func priority(of piece: PieceIndex) -> UInt8 { priority[piece.value] }

    /// Whether we still want `piece`: not verified and not skipped.
    public func wants(_ piece: PieceIndex) -> Bool { !have[piece] && priority[piece.value] > 0 }

    /// Whether every wanted piece is verified.
    public var isFinished: Bool { missing == 0 }

    /// Bytes of wanted pieces not yet verified.
    public var bytesLeft: Int64 {
        (0..<pieceCount).reduce(Int64(0)) { sum, index in
            wants(PieceIndex(index)) ? sum + Int64(length(of: PieceIndex(index))) : sum
        }
    }

    /// Whether a peer holding `pieces` has anything we want.
    public func isInterested(in pieces: Bitfield) -> Bool {
        for index in 0..<pieceCount where pieces[PieceIndex(index)] && wants(PieceIndex(index)) { return true }
        return false
    }

    // MARK: - Availability

    /// A peer announced `pieces` (a bitfield or HaveAll).
    public mutating func peerGained(_ pieces: Bitfield) { adjust(pieces, by: 1) }
    /// A peer holding `pieces` left.
    public mutating func peerLost(_ pieces: Bitfield) { adjust(pieces, by: -1) }
    /// A peer announced one new piece.
    public mutating func peerGained(_ piece: PieceIndex) { setAvailability(of: piece.value, by: 1) }

    /// How many connected peers have `piece`.
    public func availability(of piece: PieceIndex) -> Int { Int(availability[piece.value]) }

    private mutating func adjust(_ pieces: Bitfield, by delta: Int32) {
        precondition(pieces.count == pieceCount)
        for (byteIndex, byte) in pieces.bytes.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> UInt8(bit)) != 0 {
                setAvailability(of: byteIndex * 8 + bit, by: delta)
            }
        }
    }

    private mutating func setAvailability(of piece: Int, by delta: Int32) {
        let index = PieceIndex(piece)
        let counted = isStartable(index)
        if counted { countStartable(index, -1) }
        availability[piece] += delta
        if counted { countStartable(index, 1) }
    }

    // MARK: - The rarest startable piece

    private func isStartable(_ piece: PieceIndex) -> Bool {
        priority[piece.value] == maxPriority && wants(piece) && partial[piece] == nil
    }

    private mutating func countStartable(_ piece: PieceIndex, _ delta: Int) {
        let level = max(0, Int(availability[piece.value]))
        if level >= startable.count { startable += [Int](repeating: 0, count: level + 1 - startable.count) }
        startable[level] += delta
    }

    private mutating func recountStartable() {
        startable = []
        for piece in 0..<pieceCount where isStartable(PieceIndex(piece)) { countStartable(PieceIndex(piece), 1) }
    }

    /// The least availability (at least 1: a peer's piece is held by it) of a startable piece of
    /// the top priority; 1 when there is none.
    var rarestStartable: Int32 {
        var level = 1
        while level < startable.count {
            if startable[level] > 0 { return Int32(level) }
            level += 1
        }
        return 1
    }

    // MARK: - Picking

    /// Up to `count` new requests for a peer holding `pieces`, skipping blocks in `outstanding`
    /// (already asked of this peer). Returns them marked as requested.
    public mutating func pick(
        for pieces: Bitfield, count: Int, outstanding: Set<BlockRequest> = [], random: inout some RandomNumberGenerator
    ) -> [BlockRequest] {
        var picked: [BlockRequest] = []
        guard count > 0 else { return picked }
        // 1. Open blocks of pieces already started: finish what is in memory first, fullest first.
        let started = partial.filter { pieces[$0.key] && $0.value.open > 0 }
            .sorted { ($0.value.received, $1.key) > ($1.value.received, $0.key) }
        for (piece, _) in started {
            take(from: piece, into: &picked, limit: count, copies: 0, outstanding: outstanding)
            if picked.count >= count { return picked }
        }
        // 2. New pieces, by strategy.
        while picked.count < count, unstarted > 0, let piece = nextPiece(for: pieces, random: &random) {
            if isStartable(piece) { countStartable(piece, -1) }
            partial[piece] = Partial(blockCount: blockCount(of: piece))
            unstarted -= 1
            take(from: piece, into: &picked, limit: count, copies: 0, outstanding: outstanding)
        }
        // 3. Endgame: nothing left unrequested that this peer has; double up on outstanding blocks.
        if picked.count < count && isEndgame {
            let asked = outstanding.union(picked)
            for piece in partial.keys.sorted() where pieces[piece] {
                take(from: piece, into: &picked, limit: count, copies: Self.endgameCopies - 1, outstanding: asked)
                if picked.count >= count { break }
            }
        }
        return picked
    }

    /// Whether every wanted block has been requested at least once.
    public var isEndgame: Bool {
        unstarted == 0 && partial.values.allSatisfy { $0.open == 0 }
    }

    /// Takes blocks of `piece` whose outstanding count is at most `copies` (0: open ones only).
    private mutating func take(
        from piece: PieceIndex, into picked: inout [BlockRequest], limit: Int, copies: UInt8, outstanding: Set<BlockRequest>
    ) {
        let length = length(of: piece)
        update(piece) { state in
            for block in state.blocks.indices where picked.count < limit {
                let current = state.blocks[block]
                guard current != Partial.received, current <= copies else { continue }
                let request = Self.request(piece: piece, block: block, pieceLength: length)
                if outstanding.contains(request) { continue }
                if current == 0 { state.open -= 1 }
                state.blocks[block] = current + 1
                picked.append(request)
            }
        }
    }

    /// Changes `piece`'s progress in place: copying it out of the dictionary and back would copy
    /// its block array on every block.
    private mutating func update<Result>(_ piece: PieceIndex, _ body: (inout Partial) -> Result) -> Result? {
        guard partial[piece] != nil else { return nil }
        return body(&partial[piece]!)
    }

    /// The next piece to start for a peer holding `pieces`: highest priority first; then in order
    /// (sequential), at random (the first few), or rarest first with random tie-breaking.
    private func nextPiece(for pieces: Bitfield, random: inout some RandomNumberGenerator) -> PieceIndex? {
        let count = pieceCount
        let start = sequential ? 0 : Int.random(in: 0..<count, using: &random)
        let byRarity = !sequential && have.setCount >= randomFirstPieces
        // The best key possible: stop scanning as soon as it is found (the random start keeps
        // ties random). A piece this peer has is held by at least one peer.
        let ideal = (priority: maxPriority, rarity: byRarity ? rarestStartable : 0)
        var best: PieceIndex?
        var bestKey = (priority: UInt8(0), rarity: Int32.max)
        for step in 0..<count {
            var value = start + step
            if value >= count { value -= count }
            let index = PieceIndex(value)
            let piecePriority = priority[value]
            guard piecePriority >= bestKey.priority, piecePriority > 0, pieces[index], !have[index] else { continue }
            let rarity = byRarity ? availability[value] : 0
            guard best == nil || piecePriority > bestKey.priority || rarity < bestKey.rarity else { continue }
            guard partial[index] == nil else { continue }
            best = index
            bestKey = (piecePriority, rarity)
            if bestKey.priority == ideal.priority && bestKey.rarity <= ideal.rarity { break }
        }
        return best
    }

    // MARK: - Outcomes

    /// A block arrived. Unwanted copies (endgame duplicates, blocks after a piece failed and was
    /// reset) are reported so the caller discards them.
    public mutating func blockArrived(_ request: BlockRequest) -> BlockArrival {
        guard let block = blockIndex(of: request), self.request(piece: request.piece, block: block) == request else { return .unwanted }
        return update(request.piece) { state in
            let current = state.blocks[block]
            guard current != Partial.received else { return .unwanted }
            if current == 0 { state.open -= 1 }
            state.blocks[block] = Partial.received
            state.received += 1
            return .accepted(pieceComplete: state.isComplete, requestedElsewhere: current > 1)
        } ?? .unwanted
    }

    /// The block `request` starts, if its piece is in progress and the offset is a block's.
    private func blockIndex(of request: BlockRequest) -> Int? {
        guard let state = partial[request.piece], request.offset % Self.blockLength == 0 else { return nil }
        let block = request.offset / Self.blockLength
        return block < state.blocks.count ? block : nil
    }

    /// A request will not be answered (choked, rejected, cancelled, peer gone): the block is open
    /// again unless another copy is still outstanding.
    public mutating func requestLost(_ request: BlockRequest) {
        guard let block = blockIndex(of: request) else { return }
        update(request.piece) { state in
            let current = state.blocks[block]
            guard current != Partial.received, current > 0 else { return }
            state.blocks[block] = current - 1
            if current == 1 { state.open += 1 }
        }
    }

    /// The piece's hash matched: it is ours.
    public mutating func pieceVerified(_ piece: PieceIndex) {
        guard !have[piece] else { return }
        if isStartable(piece) { countStartable(piece, -1) }
        if partial.removeValue(forKey: piece) == nil && wants(piece) { unstarted -= 1 }
        if wants(piece) { missing -= 1 }
        have[piece] = true
    }

    /// The piece's hash did not match: download it again from scratch.
    public mutating func pieceFailed(_ piece: PieceIndex) {
        guard partial.removeValue(forKey: piece) != nil else { return }
        if wants(piece) { unstarted += 1 }
        if isStartable(piece) { countStartable(piece, 1) }
    }

    /// Whether `piece` is in progress (some block requested or received, not yet verified).
    public func isInProgress(_ piece: PieceIndex) -> Bool { partial[piece] != nil }

    /// Pieces in progress.
    public var piecesInProgress: Int { partial.count }
}
