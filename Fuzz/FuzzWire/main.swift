import TorrentCore

// Properties, for any bytes a peer sends after connecting: the handshake decoder and the message
// decoder never crash; a decoded message encodes to bytes that decode to it again; and a
// PeerSession fed the messages (with timers and our own serving in between) never traps, and
// every action it returns is valid for the torrent - pieces in range, blocks within their
// piece, stored data as long as its request, bitfields of the torrent's size; and the request-run
// parser reads what the message decoder reads. The first two bytes
// choose the torrent's shape, the third what we have.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 3 else { return 0 }
    let pieceLength = 16_384 << Int(bytes[0] % 3)
    let totalLength = Int64(bytes[1]) * 7_001 + 1
    var configuration = PeerSessionConfiguration(pieceLength: pieceLength, totalLength: totalLength)
    configuration.metadataSize = bytes[2] & 1 == 0 ? nil : 1234
    let pieceCount = configuration.pieceCount
    var ours = Bitfield(count: pieceCount)
    if bytes[2] & 2 != 0 { for index in stride(from: 0, to: pieceCount, by: 2) { ours[PieceIndex(index)] = true } }
    var queue = ByteQueue(Array(bytes.dropFirst(3)))
    checkRequestRuns(Array(bytes.dropFirst(3)), decoder: PeerMessageDecoder(pieceCount: pieceCount))

    // The stream may open with a handshake; whatever it holds, decoding it must not crash.
    var probe = queue
    if let handshake = try? Handshake.decode(from: &probe) {
        precondition(handshake.peerID.count == 20, "a handshake with a peer id of another length")
        queue = probe
    }

    var now = ContinuousClock.now
    var session = PeerSession(
        configuration: configuration, ours: ours, peerSupportsFast: bytes[2] & 4 != 0, peerSupportsExtensions: bytes[2] & 8 != 0, now: now)
    check(session.start(now: now), pieceCount: pieceCount, configuration: configuration)
    let decoder = PeerMessageDecoder(pieceCount: pieceCount)
    while true {
        let message: PeerMessage
        do {
            guard let next = try decoder.next(from: &queue) else { break }
            message = next
        } catch {
            break
        }
        var encoded = ByteQueue(message.encoded())
        guard let again = try? decoder.next(from: &encoded), again == message else { preconditionFailure("\(message) does not round-trip") }
        do {
            check(try session.received(message, now: now), pieceCount: pieceCount, configuration: configuration)
        } catch {
            break
        }
        // Serve what the peer asked for, as the connection would.
        while let request = session.nextRequest() { checkBlock(request, pieceCount: pieceCount, configuration: configuration) }
        now = now + .seconds(7)
        check(session.timerFired(now: now), pieceCount: pieceCount, configuration: configuration)
    }
    return 0
}

/// The seeder's request-run parser takes exactly the requests the message decoder reads at the
/// front of the same bytes, and stops where they stop.
private func checkRequestRuns(_ raw: [UInt8], decoder: PeerMessageDecoder) {
    var viaRuns: [BlockRequest] = []
    let used = raw.withUnsafeBytes { PeerMessageDecoder.requests(in: $0) { viaRuns.append($0); return true } }
    var viaMessages: [BlockRequest] = []
    var queue = ByteQueue(raw)
    while let message = try? decoder.next(from: &queue), case .request(let request) = message { viaMessages.append(request) }
    precondition(used == 17 * viaRuns.count, "the run parser took \(used) bytes for \(viaRuns.count) requests")
    precondition(viaRuns == viaMessages, "the run parser read \(viaRuns), the decoder \(viaMessages)")
}

private func checkBlock(_ request: BlockRequest, pieceCount: Int, configuration: PeerSessionConfiguration) {
    precondition(request.piece.value >= 0 && request.piece.value < pieceCount, "piece out of range: \(request)")
    let length = configuration.length(of: request.piece)
    precondition(request.offset >= 0 && request.length > 0 && request.offset + request.length <= length, "block outside its piece: \(request)")
}

private func check(_ actions: [PeerAction], pieceCount: Int, configuration: PeerSessionConfiguration) {
    for action in actions {
        switch action {
        case .send(.request(let request)), .send(.cancel(let request)), .send(.rejectRequest(let request)):
            checkBlock(request, pieceCount: pieceCount, configuration: configuration)
        case .send(.have(let piece)), .countPiece(let piece):
            precondition(piece.value >= 0 && piece.value < pieceCount, "piece out of range: \(piece)")
        case .send(.bitfield(let bits)):
            precondition(bits.count == (pieceCount + 7) / 8, "bitfield of the wrong size")
        case .countPieces(let pieces):
            precondition(pieces.count == pieceCount, "counted a bitfield of the wrong size")
        case .storeBlock(let request, let data):
            checkBlock(request, pieceCount: pieceCount, configuration: configuration)
            precondition(data.count == request.length, "stored data not as long as its request")
        case .releaseRequests(let requests):
            for request in requests { checkBlock(request, pieceCount: pieceCount, configuration: configuration) }
        case .send, .close, .extensionMessage:
            break
        }
    }
}
