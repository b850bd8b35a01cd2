import Reactor
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

/// A peer's extension handshake naming ut_metadata as `id`, with `size`.
private func greeting(id: Int?, size: Int?) -> PeerMessage {
    var handshake = ExtensionHandshake()
    if let id { handshake.messages = ["ut_metadata": id] }
    handshake.metadataSize = size
    return .extended(id: 0, payload: handshake.payload())
}

/// The pieces requested in `actions`, by peer, with the id they were sent as.
private func requests(_ actions: [MetadataExchange.Action]) -> [(PeerKey, UInt8, Int)] {
    actions.compactMap { action in
        guard case .send(let key, .extended(let id, let payload)) = action, case .request(let piece)? = try? MetadataMessage(decoding: payload)
        else { return nil }
        return (key, id, piece)
    }
}

private func dropped(_ actions: [MetadataExchange.Action]) -> [PeerKey] {
    actions.compactMap { if case .drop(let key, _) = $0 { return key } else { return nil } }
}

@Suite struct MetadataFetchExchangeTests {
    private let a = PeerKey(1), b = PeerKey(2), c = PeerKey(3)
    private let start = ContinuousClock.now
    /// Metadata of three pieces, the last short.
    private let whole = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    private func data(_ piece: Int, id: UInt8 = 1) -> PeerMessage {
        .extended(id: id, payload: MetadataMessage.answer(piece, metadata: whole).encoded())
    }

    // We greet with ut_metadata as our id 1 and, with the fast extension, HaveNone; a peer's
    // greeting with its own id and the size starts up to four requests, sent with its id.
    @Test func greetsAndAsksWithThePeersID() throws {
        var exchange = MetadataExchange(ourID: 1, listenPort: 6881)
        let hello = exchange.peerJoined(a, fast: true)
        #expect(hello.count == 2 && hello.last == .send(a, .haveNone))
        guard case .send(a, .extended(0, let payload))? = hello.first else {
            Issue.record("no extension handshake first: \(hello)")
            return
        }
        let ours = try ExtensionHandshake(payload: payload)
        #expect(ours.messages == ["ut_metadata": 1] && ours.listenPort == 6881 && ours.metadataSize == nil)
        #expect(exchange.peerJoined(b, fast: false).count == 1)
        let asked = requests(run { exchange.received(greeting(id: 3, size: whole.count), from: a, now: start) })
        #expect(asked.map(\.1) == [3, 3, 3] && asked.map(\.2) == [0, 1, 2])
        // The other peer finds nothing left to ask.
        #expect(requests(run { exchange.received(greeting(id: 5, size: whole.count), from: b, now: start) }).isEmpty)
    }

    // Pieces out of order from two peers make the whole, handed out once to be hashed.
    @Test func assemblesThenChecks() {
        var exchange = MetadataExchange()
        _ = exchange.peerJoined(a, fast: true)
        _ = exchange.peerJoined(b, fast: true)
        var exchanged = run { exchange.received(greeting(id: 2, size: whole.count), from: a, now: start) }
        #expect(requests(exchanged).count == 3)
        #expect(run { exchange.received(data(2), from: a, now: start) }.isEmpty)
        #expect(run { exchange.received(data(0), from: a, now: start) }.isEmpty)
        exchanged = run { exchange.received(data(1), from: a, now: start) }
        #expect(exchanged == [.check(whole)])
        #expect(run { exchange.verified(true, now: start) }.isEmpty)
        #expect(exchange.assembly.progress == (have: 3, of: 3))
    }

    // Peers that cannot help or that lie are dropped: no ut_metadata, a malformed message, a
    // piece of another total; a peer that has none yet (size 0, as libtorrent says) stays unasked.
    @Test func dropsPeersThatCannotHelpOrLie() {
        var exchange = MetadataExchange()
        for key in [a, b, c] { _ = exchange.peerJoined(key, fast: false) }
        #expect(dropped(run { exchange.received(greeting(id: nil, size: 100), from: a, now: start) }) == [a])
        #expect(run { exchange.received(greeting(id: 4, size: 0), from: b, now: start) }.isEmpty)
        _ = exchange.received(greeting(id: 4, size: whole.count), from: c, now: start)
        #expect(dropped(run { exchange.received(.extended(id: 1, payload: Array("garbage".utf8)), from: c, now: start) }) == [c])
        var liar = MetadataExchange()
        _ = liar.peerJoined(a, fast: false)
        _ = liar.received(greeting(id: 4, size: whole.count), from: a, now: start)
        let wrongTotal = PeerMessage.extended(id: 1, payload: MetadataMessage.data(piece: 0, totalSize: 50_000, bytes: whole[0..<16_384]).encoded())
        #expect(dropped(run { liar.received(wrongTotal, from: a, now: start) }) == [a])
    }

    // A peer sitting on a request past the deadline is dropped and its pieces asked of another.
    @Test func aSilentPeerTimesOut() {
        var exchange = MetadataExchange()
        _ = exchange.peerJoined(a, fast: true)
        _ = exchange.peerJoined(b, fast: true)
        #expect(requests(run { exchange.received(greeting(id: 2, size: whole.count), from: a, now: start) }).count == 3)
        #expect(requests(run { exchange.received(greeting(id: 2, size: whole.count), from: b, now: start) }).isEmpty)
        #expect(run { exchange.tick(now: start + .seconds(10)) }.isEmpty)
        let late = run { exchange.tick(now: start + MetadataExchange.requestTimeout + .seconds(1)) }
        #expect(dropped(late) == [a])
        #expect(requests(late).map(\.0) == [b, b, b])
    }

    // A reject sends the piece to another peer; a whole that does not hash drops whoever sent
    // part of it and starts over with the rest.
    @Test func rejectsAndMismatches() {
        var exchange = MetadataExchange()
        for key in [a, b, c] { _ = exchange.peerJoined(key, fast: true) }
        _ = exchange.received(greeting(id: 2, size: 100), from: a, now: start)
        _ = exchange.received(greeting(id: 2, size: 100), from: b, now: start)
        let rejected = run { exchange.received(.extended(id: 1, payload: MetadataMessage.reject(piece: 0).encoded()), from: a, now: start) }
        #expect(requests(rejected).map(\.0) == [b])
        let small = [UInt8](repeating: 1, count: 100)
        let answer = PeerMessage.extended(id: 1, payload: MetadataMessage.answer(0, metadata: small).encoded())
        #expect(run { exchange.received(answer, from: b, now: start) } == [.check(small)])
        _ = exchange.received(greeting(id: 2, size: 100), from: c, now: start)
        let after = run { exchange.verified(false, now: start) }
        #expect(dropped(after) == [b])
        #expect(requests(after).map(\.0) == [c])
    }

    // What peers ask of a fetch is rejected (we have nothing yet), with their id; a flood of
    // requests is dropped.
    @Test func rejectsRequestsAndDropsAFlood() {
        var exchange = MetadataExchange()
        _ = exchange.peerJoined(a, fast: true)
        _ = exchange.received(greeting(id: 7, size: nil), from: a, now: start)
        let ask = PeerMessage.extended(id: 1, payload: MetadataMessage.request(piece: 0).encoded())
        #expect(run { exchange.received(ask, from: a, now: start) } == [.send(a, .extended(id: 7, payload: MetadataMessage.reject(piece: 0).encoded()))])
        for _ in 1..<MetadataExchange.maxRequestsServed { _ = exchange.received(ask, from: a, now: start) }
        #expect(dropped(run { exchange.received(ask, from: a, now: start) }) == [a])
    }

    // A seed answers a request with the piece, the short last one included, and rejects one past
    // the end; at an exact multiple of 16 KiB there is no empty last piece to ask for.
    @Test func answersRequests() {
        #expect(MetadataMessage.answer(2, metadata: whole) == .data(piece: 2, totalSize: 40_000, bytes: whole[32_768..<40_000]))
        #expect(MetadataMessage.answer(3, metadata: whole) == .reject(piece: 3))
        let exact = [UInt8](repeating: 2, count: 32_768)
        #expect(MetadataMessage.answer(1, metadata: exact) == .data(piece: 1, totalSize: 32_768, bytes: exact[16_384...]))
        #expect(MetadataMessage.answer(2, metadata: exact) == .reject(piece: 2))
        #expect(MetadataMessage.answer(-1, metadata: exact) == .reject(piece: -1))
    }
}


@Suite struct MagnetHandoverTests {
    // The .torrent made around fetched metadata keeps the info dictionary byte for byte (the same
    // info hash) and names the magnet's trackers, one tier each.
    @Test func torrentFileAroundFetchedMetadata() throws {
        let info = Bencode.encode(.dictionary(BencodeDictionary([
            ("length", .integer(20)), ("name", .string("x")), ("piece length", .integer(16_384)),
            ("pieces", .bytes([UInt8](repeating: 0xCD, count: 20))),
        ])))
        let file = Metainfo.torrentFile(infoBytes: info, trackers: ["http://a/announce", "udp://b:1"])
        let metainfo = try Metainfo(bencoded: file, sha1: Digest.sha1)
        #expect(metainfo.infoBytes == info)
        #expect(metainfo.infoHash.bytes == Digest.sha1(info[...]))
        #expect(metainfo.trackerTiers == [["http://a/announce"], ["udp://b:1"]])
        #expect(try Metainfo(bencoded: Metainfo.torrentFile(infoBytes: info, trackers: []), sha1: Digest.sha1).trackerTiers.isEmpty)
    }

    // A connection that fetched metadata said HaveNone already: the pieces we have go as Haves
    // (no second first message), and the extension handshake again, now with metadata_size.
    @Test func aHandedOverSessionNamesItsPiecesAsHaves() throws {
        var configuration = PeerSessionConfiguration(pieceLength: 16_384, totalLength: 16_384 * 4)
        configuration.metadataSize = 1234
        var ours = Bitfield(count: 4)
        ours[PieceIndex(1)] = true
        var session = PeerSession(configuration: configuration, ours: ours, peerSupportsFast: true, peerSupportsExtensions: true, now: .now)
        let actions = session.start(now: .now, saidHaveNone: true)
        #expect(actions.dropFirst() == [.send(.have(PieceIndex(1)))])
        guard case .send(.extended(0, let payload))? = actions.first else {
            Issue.record("no extension handshake first: \(actions)")
            return
        }
        #expect(try ExtensionHandshake(payload: payload).metadataSize == 1234)
        var fresh = PeerSession(configuration: configuration, ours: ours, peerSupportsFast: true, peerSupportsExtensions: true, now: .now)
        #expect(fresh.start(now: .now).last == .send(.bitfield(ours.bytes)))
    }

    // An address whose connection changed owner is ready to dial again at once, with no backoff.
    @Test func aReleasedAddressIsDialledAtOnce() {
        var list = PeerList()
        let now = ContinuousClock.now
        list.add(["127.0.0.1:1"], from: .manual)
        #expect(list.nextCandidates(5, now: now) == ["127.0.0.1:1"])
        list.connected("127.0.0.1:1")
        #expect(list.nextCandidates(5, now: now).isEmpty)
        list.release("127.0.0.1:1")
        #expect(list.nextCandidates(5, now: now) == ["127.0.0.1:1"])
        list.disconnected("127.0.0.1:1", now: now)
        #expect(list.nextCandidates(5, now: now).isEmpty)
    }
}
