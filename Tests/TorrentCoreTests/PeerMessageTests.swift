import Testing

@testable import TorrentCore

private let samples: [PeerMessage] = [
    .keepAlive, .choke, .unchoke, .interested, .notInterested, .have(PieceIndex(7)), .bitfield([0xFF, 0x80]),
    .request(BlockRequest(piece: PieceIndex(1), offset: 16_384, length: 16_384)),
    .piece(BlockRequest(piece: PieceIndex(2), offset: 0, length: 5), [1, 2, 3, 4, 5]),
    .cancel(BlockRequest(piece: PieceIndex(3), offset: 32_768, length: 100)), .port(6881), .suggestPiece(PieceIndex(4)),
    .haveAll, .haveNone, .rejectRequest(BlockRequest(piece: PieceIndex(5), offset: 0, length: 16_384)),
    .allowedFast(PieceIndex(6)), .extended(id: 0, payload: Array("d1:md6:ut_pexi1eee".utf8)),
    .unknown(id: 99, payload: [9, 9]),
]

private func decodeAll(_ chunks: [[UInt8]], decoder: PeerMessageDecoder) throws(WireError) -> [PeerMessage] {
    var queue = ByteQueue()
    var out: [PeerMessage] = []
    for chunk in chunks {
        queue.append(chunk)
        while let message = try decoder.next(from: &queue) { out.append(message) }
    }
    #expect(queue.count == 0)
    return out
}

@Suite struct PeerMessageTests {
    // Drip-feed: the same stream decodes to the same messages whether it arrives byte by byte,
    // all at once, or split in two at every offset (NIO's ByteToMessageDecoder check).
    @Test func decodesEveryMessageHoweverTheBytesArrive() throws {
        let stream = samples.flatMap { $0.encoded() }
        let decoder = PeerMessageDecoder(pieceCount: 16)
        #expect(try decodeAll([stream], decoder: decoder) == samples)
        #expect(try decodeAll(stream.map { [$0] }, decoder: decoder) == samples)
        for cut in 0...stream.count {
            #expect(try decodeAll([Array(stream[..<cut]), Array(stream[cut...])], decoder: decoder) == samples)
        }
        // Whole frames decoded in place read the same.
        for sample in samples {
            #expect(try sample.encoded().withUnsafeBytes { try decoder.message(frame: $0) } == sample)
        }
    }

    // The piece header the payload path writes is exactly the first 13 bytes of the message.
    @Test func pieceHeaderMatchesFullEncoding() {
        let request = BlockRequest(piece: PieceIndex(300), offset: 49_152, length: 16_384)
        let data = [UInt8](repeating: 0xAB, count: 16_384)
        #expect(PeerMessage.pieceHeader(for: request) + data == PeerMessage.piece(request, data[...]).encoded())
        // A reused buffer is overwritten, not appended to.
        var reused = PeerMessage.pieceHeader(for: BlockRequest(piece: PieceIndex(1), offset: 0, length: 9))
        PeerMessage.pieceHeader(for: request, into: &reused)
        #expect(reused == PeerMessage.pieceHeader(for: request))
    }

    // A run of requests decodes in place to what the message decoder makes of each, and stops
    // at the first other message (a cancel has the same length), at a partial request, or when
    // told to.
    @Test func requestRunsDecodeAsMessagesDoAndStopAtAnythingElse() throws {
        let requests = (0..<5).map { BlockRequest(piece: PieceIndex(70_000 + $0), offset: $0 * 16_384, length: 16_384 - $0) }
        let cancel = PeerMessage.cancel(requests[0])
        var stream = requests.flatMap { PeerMessage.request($0).encoded() } + cancel.encoded()
        stream += PeerMessage.request(requests[1]).encoded().prefix(10)
        let decoder = PeerMessageDecoder(pieceCount: 100_000)
        var seen: [BlockRequest] = []
        let used = stream.withUnsafeBytes { PeerMessageDecoder.requests(in: $0) { seen.append($0); return true } }
        #expect(used == 5 * 17)
        #expect(seen == requests)
        for request in requests {
            #expect(try PeerMessage.request(request).encoded().withUnsafeBytes { try decoder.message(frame: $0) } == .request(request))
        }
        // After the cancel: only a partial request, nothing taken.
        let rest = Array(stream[(5 * 17 + 17)...])
        #expect(rest.withUnsafeBytes { PeerMessageDecoder.requests(in: $0) { _ in true } } == 0)
        // Stopped after the second.
        var taken = 0
        let stopped = stream.withUnsafeBytes { PeerMessageDecoder.requests(in: $0) { _ in taken += 1; return taken < 2 } }
        #expect(stopped == 2 * 17 && taken == 2)
    }

    // An oversized length prefix fails as soon as its 4 bytes arrive, before any body is buffered.
    @Test func oversizedLengthFailsBeforeBuffering() {
        let decoder = PeerMessageDecoder(maxMessageLength: 1000)
        var queue = ByteQueue()
        queue.append([0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: WireError.messageTooLong(length: 0x7FFF_FFFF, limit: 1000)) { try decoder.next(from: &queue) }
    }

    // Fixed-size messages with the wrong length are errors, not misreads.
    @Test func rejectsWrongLengths() {
        let decoder = PeerMessageDecoder(pieceCount: 8)
        for (bytes, id) in [([0, 0, 0, 2, 0, 0], UInt8(0)), ([0, 0, 0, 4, 4, 0, 0, 1], 4), ([0, 0, 0, 5, 6, 0, 0, 0, 1], 6),
                            ([0, 0, 0, 2, 14, 1], 14), ([0, 0, 0, 1, 20], 20), ([0, 0, 0, 5, 7, 0, 0, 0, 0], 7)] as [([UInt8], UInt8)] {
            var queue = ByteQueue()
            queue.append(bytes)
            #expect(throws: WireError.malformed(id: id, length: bytes.count - 4)) { try decoder.next(from: &queue) }
            #expect(throws: WireError.malformed(id: id, length: bytes.count - 4)) {
                try bytes.withUnsafeBytes { try decoder.message(frame: $0) }
            }
        }
    }
}

@Suite struct HandshakeTests {
    private let hash = InfoHash(bytes: Array(1...20))!

    // A handshake round-trips, carries the reserved bits, and can arrive in pieces.
    @Test func roundTripsAndReadsReservedBits() throws {
        let ours = Handshake(infoHash: hash, peerID: Array(repeating: 7, count: 20))
        let bytes = ours.encoded()
        #expect(bytes.count == 68)
        #expect(bytes[25] == 0x10 && bytes[27] == 0x04)
        var queue = ByteQueue()
        queue.append(bytes[..<40])
        #expect(try Handshake.decode(from: &queue) == nil)
        queue.append(bytes[40...] + [0, 0, 0, 0])
        let decoded = try #require(try Handshake.decode(from: &queue))
        #expect(decoded == ours && decoded.supportsFast && decoded.supportsExtensions)
        #expect(queue.count == 4)  // the next message's bytes stay
        #expect(!Handshake(infoHash: hash, peerID: Array(repeating: 0, count: 20), extensions: false, fast: false).supportsFast)
    }

    // Anything that is not BitTorrent is refused at the first wrong byte (an HTTP request, say).
    @Test func refusesStrangersEarly() {
        for bytes in [Array("GET / HTTP/1.1\r\n".utf8), [19] + Array("BitTorrent protocoX".utf8), [0x13, 0x42, 0x00]] {
            var queue = ByteQueue()
            queue.append(bytes)
            #expect(throws: WireError.self) { try Handshake.decode(from: &queue) }
        }
    }

    // Peer ids follow BEP 20 and differ between calls.
    @Test func peerIDsHaveOurPrefix() {
        var generator = SystemRandomNumberGenerator()
        let one = PeerID.generate(using: &generator)
        #expect(one.count == 20 && Array(one.prefix(8)) == Array("-EV0100-".utf8))
        #expect(PeerID.generate(using: &generator) != one)
    }

    // The BEP 10 handshake round-trips; bad types are ignored rather than fatal.
    @Test func extensionHandshake() throws {
        var handshake = ExtensionHandshake()
        handshake.messages = ["ut_pex": 1, "ut_metadata": 2]
        handshake.client = "evtorrent 0.1"
        handshake.requestQueueLength = 250
        handshake.listenPort = 6881
        handshake.yourIP = [127, 0, 0, 1]
        handshake.uploadOnly = true
        #expect(try ExtensionHandshake(payload: handshake.payload()) == handshake)
        let odd = try ExtensionHandshake(payload: Array("d1:mi5e4:reqq3:abc1:v3:xyze".utf8))
        #expect(odd.messages.isEmpty && odd.requestQueueLength == nil && odd.client == "xyz")
        #expect(throws: BencodeError.self) { try ExtensionHandshake(payload: Array("d1:m".utf8)) }
    }
}
