import Testing

@testable import TorrentCore

/// Pieces of 2 blocks (32 KiB) each; the last piece is a short single block of 1,000 bytes.
private let pieceLength = 2 * PiecePicker.blockLength

/// A picker from string fixtures, one character per piece (libtorrent's picker-test style):
/// `pieces` says what we have (`X`), want (`.`) or skip (`-`); `availability` gives each piece's
/// peer count as a digit.
private func picker(_ pieces: String, availability: String? = nil, randomFirst: Int = 0) -> PiecePicker {
    let count = pieces.count
    var have = Bitfield(count: count)
    for (index, character) in pieces.enumerated() where character == "X" { have[PieceIndex(index)] = true }
    var result = PiecePicker(
        pieceLength: pieceLength, totalLength: Int64(count - 1) * Int64(pieceLength) + 1_000, have: have)
    result.randomFirstPieces = randomFirst
    result.setPriorities(pieces.map { $0 == "-" ? 0 : 1 })
    if let availability {
        for (index, digit) in availability.enumerated() {
            for _ in 0..<Int(String(digit))! { result.peerGained(PieceIndex(index)) }
        }
    }
    return result
}

/// A peer's bitfield from a fixture: `X` = has the piece.
private func peer(_ pieces: String) -> Bitfield {
    var field = Bitfield(count: pieces.count)
    for (index, character) in pieces.enumerated() where character == "X" { field[PieceIndex(index)] = true }
    return field
}

private func block(_ piece: Int, _ index: Int = 0, length: Int = PiecePicker.blockLength) -> BlockRequest {
    BlockRequest(piece: PieceIndex(piece), offset: index * PiecePicker.blockLength, length: length)
}

@Suite struct PiecePickerTests {
    // Rarest first: the least available piece the peer has, over more common ones.
    @Test func picksRarestFirst() {
        for seed in 1...20 {
            var random = SeededGenerator(seed: UInt64(seed))
            var picker = picker("......", availability: "314434")
            let picked = picker.pick(for: peer("XXXXXX"), count: 2, random: &random)
            #expect(picked == [block(1, 0), block(1, 1)], "seed \(seed)")
        }
    }

    // Among equally rare pieces the choice is random, so peers spread over the swarm.
    @Test func breaksRarityTiesAtRandom() {
        var firsts = Set<PieceIndex>()
        for seed in 1...40 {
            var random = SeededGenerator(seed: UInt64(seed))
            var picker = picker("......", availability: "212221")
            firsts.insert(picker.pick(for: peer("XXXXXX"), count: 1, random: &random)[0].piece)
        }
        #expect(firsts == [PieceIndex(1), PieceIndex(5)])
    }

    // Until `randomFirstPieces` are complete, rarity is ignored: any wanted piece may come first.
    @Test func picksRandomPiecesFirst() {
        var firsts = Set<PieceIndex>()
        for seed in 1...40 {
            var random = SeededGenerator(seed: UInt64(seed))
            var picker = picker("X.....", availability: "919999", randomFirst: 4)
            firsts.insert(picker.pick(for: peer("XXXXXX"), count: 1, random: &random)[0].piece)
        }
        #expect(firsts.count > 2)
        #expect(!firsts.contains(PieceIndex(0)))
    }

    // Only pieces the peer has and we want; nothing at all from a peer with nothing new.
    @Test func picksOnlyWhatThePeerHasAndWeWant() {
        var random = SeededGenerator()
        var picker = picker("X.-.X.", availability: "111111")
        let picked = picker.pick(for: peer("XXX..."), count: 10, random: &random)
        #expect(picked == [block(1, 0), block(1, 1)])
        #expect(picker.pick(for: peer("X.X.X."), count: 10, random: &random).isEmpty)
        #expect(picker.isInterested(in: peer("...X..")))
        #expect(!picker.isInterested(in: peer("X.X.X.")))
    }

    // A started piece is finished before a new one begins, even if rarer pieces exist.
    @Test func finishesStartedPiecesFirst() {
        var random = SeededGenerator()
        var picker = picker("....", availability: "3313")
        #expect(picker.pick(for: peer("XXXX"), count: 1, random: &random) == [block(2, 0)])
        // Another peer without piece 2 starts something else; one with it finishes piece 2 first.
        #expect(picker.pick(for: peer("XX.X"), count: 1, random: &random).first?.piece != PieceIndex(2))
        let next = picker.pick(for: peer("XXXX"), count: 1, random: &random)
        #expect(next == [block(2, 1)])
    }

    // Higher priority pieces come first whatever their rarity; sequential mode goes in order.
    @Test func honoursPriorityAndSequential() {
        var random = SeededGenerator()
        var prioritised = picker("......", availability: "111911")
        var priorities = [UInt8](repeating: 1, count: 6)
        priorities[3] = 7
        prioritised.setPriorities(priorities)
        #expect(prioritised.pick(for: peer("XXXXXX"), count: 1, random: &random) == [block(3, 0)])

        var sequential = picker(".X....", availability: "111111")
        sequential.sequential = true
        let picked = sequential.pick(for: peer("XXXXXX"), count: 5, random: &random)
        #expect(picked == [block(0, 0), block(0, 1), block(2, 0), block(2, 1), block(3, 0)])
    }

    // The last piece is short: one block of 1,000 bytes.
    @Test func lastPieceHasAShortBlock() {
        var random = SeededGenerator()
        var picker = picker("XXX.")
        #expect(picker.pick(for: peer("XXXX"), count: 5, random: &random) == [block(3, 0, length: 1_000)])
        #expect(picker.blockArrived(block(3, 0, length: 1_000)) == .accepted(pieceComplete: true, requestedElsewhere: false))
    }

    // Blocks arrive, the piece completes, verifies; a failed piece is fetched again from scratch.
    @Test func tracksArrivalsVerificationAndFailure() {
        var random = SeededGenerator()
        var two = picker("X.X")
        let requests = two.pick(for: peer("XXX"), count: 10, random: &random)
        #expect(requests == [block(1, 0), block(1, 1)])
        #expect(two.blockArrived(block(1, 0)) == .accepted(pieceComplete: false, requestedElsewhere: false))
        #expect(two.blockArrived(block(1, 0)) == .unwanted)  // a duplicate
        #expect(two.blockArrived(block(1, 1)) == .accepted(pieceComplete: true, requestedElsewhere: false))
        two.pieceFailed(PieceIndex(1))
        #expect(!two.isInProgress(PieceIndex(1)))
        #expect(two.blockArrived(block(1, 1)) == .unwanted)  // a straggler of the failed attempt
        #expect(two.pick(for: peer("XXX"), count: 10, random: &random) == [block(1, 0), block(1, 1)])
        _ = two.blockArrived(block(1, 0))
        _ = two.blockArrived(block(1, 1))
        two.pieceVerified(PieceIndex(1))
        #expect(two.have[PieceIndex(1)] && two.isFinished && two.bytesLeft == 0)
        #expect(two.pick(for: peer("XXX"), count: 10, random: &random).isEmpty)
    }

    // Blocks that are not whole requests of ours are unwanted: misaligned, wrong length, unknown piece.
    @Test func rejectsBlocksThatAreNotOurs() {
        var random = SeededGenerator()
        var picker = picker("...")
        _ = picker.pick(for: peer("X.."), count: 2, random: &random)
        #expect(picker.blockArrived(BlockRequest(piece: PieceIndex(0), offset: 100, length: 16_384)) == .unwanted)
        #expect(picker.blockArrived(BlockRequest(piece: PieceIndex(0), offset: 0, length: 100)) == .unwanted)
        #expect(picker.blockArrived(BlockRequest(piece: PieceIndex(0), offset: 5 * 16_384, length: 16_384)) == .unwanted)
        #expect(picker.blockArrived(block(1, 0)) == .unwanted)
    }

    // A lost request (choke, reject, peer gone) reopens its block for the next peer.
    @Test func lostRequestsAreReopened() {
        var random = SeededGenerator()
        var picker = picker("X.X")
        #expect(picker.pick(for: peer("XXX"), count: 2, random: &random) == [block(1, 0), block(1, 1)])
        #expect(picker.isEndgame)
        picker.requestLost(block(1, 1))
        #expect(!picker.isEndgame)
        #expect(picker.pick(for: peer("XXX"), count: 1, random: &random) == [block(1, 1)])
    }

    // Endgame: once every wanted block is requested, a second peer is asked for outstanding blocks
    // (at most two copies); the first copy to arrive says the other request should be cancelled.
    @Test func endgameDuplicatesOutstandingBlocks() {
        var random = SeededGenerator()
        var picker = picker("X.X")
        let first = picker.pick(for: peer("XXX"), count: 10, random: &random)
        #expect(first == [block(1, 0), block(1, 1)])
        #expect(picker.isEndgame)
        // The same peer is not asked twice for a block.
        #expect(picker.pick(for: peer("XXX"), count: 10, outstanding: Set(first), random: &random).isEmpty)
        let second = picker.pick(for: peer("XXX"), count: 10, random: &random)
        #expect(second == [block(1, 0), block(1, 1)])
        #expect(picker.pick(for: peer("XXX"), count: 10, random: &random).isEmpty)  // two copies at most
        #expect(picker.blockArrived(block(1, 0)) == .accepted(pieceComplete: false, requestedElsewhere: true))
        #expect(picker.blockArrived(block(1, 0)) == .unwanted)
        // Losing one copy of an outstanding block leaves the other in flight: nothing reopens.
        picker.requestLost(block(1, 1))
        #expect(picker.blockArrived(block(1, 1)) == .accepted(pieceComplete: true, requestedElsewhere: false))
    }

    // Availability follows peers arriving and leaving.
    @Test func countsAvailability() {
        var picker = picker("....")
        picker.peerGained(peer("XX.X"))
        picker.peerGained(peer("X..X"))
        picker.peerGained(PieceIndex(2))
        #expect((0..<4).map { picker.availability(of: PieceIndex($0)) } == [2, 1, 1, 2])
        picker.peerLost(peer("X..X"))
        #expect((0..<4).map { picker.availability(of: PieceIndex($0)) } == [1, 1, 1, 1])
    }

    // Skipped pieces do not count as left, and the download is finished without them.
    @Test func skippedPiecesAreNotLeft() {
        var picker = picker("X--.")
        #expect(picker.bytesLeft == 1_000)
        #expect(!picker.isFinished)
        picker.pieceVerified(PieceIndex(3))
        #expect(picker.isFinished)
    }

    // The scan for a new piece stops early at the rarest startable piece; through peers coming
    // and going, pieces started, verified, failed and reprioritised, every new piece is still
    // one of the highest-priority, rarest pieces the peer has that nothing was asked of yet.
    @Test func newPiecesAreTheRarestThroughEveryChange() {
        let count = 40
        for seed in 1...30 {
            var random = SeededGenerator(seed: UInt64(seed))
            var picker = picker(String(repeating: ".", count: count))
            var priorities = (0..<count).map { _ in UInt8.random(in: 0...2, using: &random) }
            picker.setPriorities(priorities)
            var peers: [Bitfield] = []
            for _ in 0..<200 {
                switch Int.random(in: 0..<10, using: &random) {
                case 0...2:
                    var field = Bitfield(count: count)
                    for index in 0..<count where Bool.random(using: &random) { field[PieceIndex(index)] = true }
                    picker.peerGained(field)
                    peers.append(field)
                case 3 where !peers.isEmpty:
                    picker.peerLost(peers.remove(at: Int.random(in: 0..<peers.count, using: &random)))
                case 4:
                    priorities[Int.random(in: 0..<count, using: &random)] = UInt8.random(in: 0...3, using: &random)
                    picker.setPriorities(priorities)
                case 5, 6:
                    let started = (0..<count).map(PieceIndex.init).filter { picker.isInProgress($0) }
                    guard let piece = started.randomElement(using: &random) else { break }
                    if Bool.random(using: &random) { picker.pieceVerified(piece) } else { picker.pieceFailed(piece) }
                default:
                    guard let pieces = peers.randomElement(using: &random) else { break }
                    let candidates = (0..<count).map(PieceIndex.init).filter {
                        pieces[$0] && picker.wants($0) && !picker.isInProgress($0)
                    }
                    let picked = picker.pick(for: pieces, count: 40, random: &random)
                    guard let first = picked.map(\.piece).first(where: { candidates.contains($0) }) else {
                        #expect(candidates.isEmpty || picked.count == 40, "seed \(seed)")
                        break
                    }
                    let top = candidates.map { picker.priority(of: $0) }.max()!
                    let rarest = candidates.filter { picker.priority(of: $0) == top }.map { picker.availability(of: $0) }.min()!
                    #expect(picker.priority(of: first) == top && picker.availability(of: first) == rarest, "seed \(seed)")
                }
                // The count the scan stops by matches a count from scratch.
                let top = priorities.max()!
                let levels = (0..<count).map(PieceIndex.init)
                    .filter { picker.priority(of: $0) == top && picker.wants($0) && !picker.isInProgress($0) }
                    .map { picker.availability(of: $0) }.filter { $0 >= 1 }
                #expect(picker.rarestStartable == Int32(levels.min() ?? 1), "seed \(seed)")
            }
        }
    }
}
