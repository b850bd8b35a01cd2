import Testing

@testable import TorrentCore

/// Calls `body` (lets #expect look at a mutating call's result).
private func run<T>(_ body: () -> T) -> T { body() }

@Suite struct MetadataExchangeTests {
    private let a = PeerKey(1), b = PeerKey(2), c = PeerKey(3)

    // The wire form, both ways: a data message carries its bytes after the dictionary; reject is
    // msg_type 2 (BEP 9's own example says 1, a typo).
    @Test func encodesAndDecodes() throws {
        let data = MetadataMessage.data(piece: 1, totalSize: 20_000, bytes: ArraySlice([UInt8](repeating: 7, count: 3616)))
        #expect(try MetadataMessage(decoding: data.encoded()) == data)
        #expect(MetadataMessage.request(piece: 0).encoded() == Array("d8:msg_typei0e5:piecei0ee".utf8))
        #expect(MetadataMessage.reject(piece: 3).encoded() == Array("d8:msg_typei2e5:piecei3ee".utf8))
        #expect(try MetadataMessage(decoding: Array("d8:msg_typei2e5:piecei3ee".utf8)) == .reject(piece: 3))
    }

    // Garbage, unknown types, negative or huge pieces and sizes over the cap are refused before
    // anything is sized from them.
    @Test func refusesMalformedMessages() {
        for payload in ["", "i3e", "d8:msg_typei0ee", "d8:msg_typei9e5:piecei0ee", "d8:msg_typei0e5:piecei-1ee",
                        "d8:msg_typei0e5:piecei99999999ee", "d8:msg_typei1e5:piecei0e10:total_sizei999999999ee",
                        "d8:msg_typei1e5:piecei0ee"] {
            #expect(throws: MetadataMessage.Failure.self) { try MetadataMessage(decoding: Array(payload.utf8)) }
        }
    }

    // An exact multiple of 16 KiB has no empty last piece; the last piece is otherwise shorter.
    @Test func pieceArithmetic() {
        #expect(MetadataMessage.pieceCount(size: 32_768) == 2)
        #expect(MetadataMessage.pieceCount(size: 32_769) == 3)
        #expect(MetadataMessage.length(ofPiece: 1, size: 32_768) == 16_384)
        #expect(MetadataMessage.length(ofPiece: 2, size: 32_769) == 1)
    }

    private func piece(_ index: Int, of whole: [UInt8]) -> ArraySlice<UInt8> {
        let start = index * MetadataMessage.pieceSize
        return whole[start..<min(start + MetadataMessage.pieceSize, whole.count)]
    }

    // Two peers share the work; pieces arriving out of order assemble to the whole, which is then
    // handed out to be hashed once.
    @Test func assemblesFromSeveralPeersOutOfOrder() {
        let whole = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var assembly = MetadataAssembly()
        #expect(run { assembly.peerAdvertised(a, size: whole.count) })
        #expect(run { assembly.peerAdvertised(b, size: whole.count) })
        #expect(run { assembly.nextRequest(for: a) } == 0)
        #expect(run { assembly.nextRequest(for: b) } == 1)
        #expect(run { assembly.nextRequest(for: b) } == 2)
        #expect(run { assembly.received(.data(piece: 2, totalSize: whole.count, bytes: piece(2, of: whole)), from: b) } == MetadataAssembly.Outcome.none)
        #expect(run { assembly.received(.data(piece: 1, totalSize: whole.count, bytes: piece(1, of: whole)), from: b) } == MetadataAssembly.Outcome.none)
        #expect(assembly.progress == (have: 2, of: 3))
        #expect(run { assembly.received(.data(piece: 0, totalSize: whole.count, bytes: piece(0, of: whole)), from: a) } == .check(whole))
        #expect(run { assembly.verified(true) }.isEmpty)
    }

    // A peer with no metadata (size 0, as libtorrent says) or one over the cap is not used; one
    // that disagrees with the size already known is not asked; a peer that lies in its data
    // (another total, a piece of the wrong length, a piece it was not asked for) is banned.
    @Test func refusesPeersThatLie() {
        var assembly = MetadataAssembly()
        #expect(!run { assembly.peerAdvertised(a, size: 0) })
        #expect(!run { assembly.peerAdvertised(a, size: nil) })
        #expect(!run { assembly.peerAdvertised(a, size: MetadataMessage.maxSize + 1) })
        #expect(run { assembly.peerAdvertised(a, size: 20_000) })
        #expect(!run { assembly.peerAdvertised(b, size: 30_000) })
        #expect(run { assembly.peerAdvertised(c, size: 20_000) })
        #expect(run { assembly.nextRequest(for: a) } == 0)
        #expect(run { assembly.nextRequest(for: c) } == 1)
        let bytes = ArraySlice([UInt8](repeating: 1, count: 16_384))
        guard case .ban(a, _) = assembly.received(.data(piece: 0, totalSize: 40_000, bytes: bytes), from: a) else {
            Issue.record("a wrong total_size was accepted")
            return
        }
        guard case .ban(c, _) = assembly.received(.data(piece: 1, totalSize: 20_000, bytes: bytes), from: c) else {
            Issue.record("a last piece of the wrong length was accepted")
            return
        }
        guard case .ban(b, _) = assembly.received(.data(piece: 0, totalSize: 20_000, bytes: bytes), from: b) else {
            Issue.record("an unasked piece was accepted")
            return
        }
    }

    // A peer that rejects a piece is not asked for it again while it is missing; another is.
    @Test func rejectsSendTheRequestElsewhere() {
        var assembly = MetadataAssembly()
        _ = assembly.peerAdvertised(a, size: 100)
        _ = assembly.peerAdvertised(b, size: 100)
        #expect(run { assembly.nextRequest(for: a) } == 0)
        #expect(run { assembly.received(.reject(piece: 0), from: a) } == MetadataAssembly.Outcome.none)
        #expect(run { assembly.nextRequest(for: a) } == nil)
        #expect(run { assembly.nextRequest(for: b) } == 0)
        // A peer that leaves frees what it was asked for.
        assembly.peerLeft(b)
        #expect(run { assembly.nextRequest(for: c) } == 0)
    }

    // A whole that does not hash bans every peer that sent a piece of it and starts over with
    // the others.
    @Test func aHashMismatchBansTheContributors() {
        let whole = [UInt8](repeating: 9, count: 20_000)
        var assembly = MetadataAssembly()
        for peer in [a, b, c] { _ = assembly.peerAdvertised(peer, size: whole.count) }
        #expect(run { assembly.nextRequest(for: a) } == 0)
        #expect(run { assembly.nextRequest(for: b) } == 1)
        _ = assembly.received(.data(piece: 0, totalSize: whole.count, bytes: piece(0, of: whole)), from: a)
        #expect(run { assembly.received(.data(piece: 1, totalSize: whole.count, bytes: piece(1, of: whole)), from: b) } == .check(whole))
        #expect(run { assembly.verified(false) } == [a, b])
        #expect(assembly.progress == (have: 0, of: 2))
        #expect(run { assembly.nextRequest(for: a) } == nil && !run { assembly.peerAdvertised(b, size: whole.count) })
        #expect(run { assembly.nextRequest(for: c) } == 0)
    }
}
