import TorrentCore

// Properties: a BEP 9 message never crashes the decoder; a decoded message encodes to bytes that
// decode to it again; fed to an assembly (as from a peer that advertised a size) it never crashes
// the state machine either. And the same bytes cut into BEP 10 messages (id byte, 16-bit length,
// payload) and fed to a fetch's exchange from two peers never crash it, and it only ever sends
// to peers it knows.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetadata(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    exchange(bytes)
    guard let message = try? MetadataMessage(decoding: bytes) else { return 0 }
    guard let again = try? MetadataMessage(decoding: message.encoded()) else { preconditionFailure("encoded message does not decode") }
    precondition(again == message, "round trip changed the message")
    var assembly = MetadataAssembly()
    let peer = PeerKey(1)
    if case .data(_, let total, _) = message, assembly.peerAdvertised(peer, size: total) {
        while assembly.nextRequest(for: peer) != nil {}
        _ = assembly.received(message, from: peer)
    }
    return 0
}

private func exchange(_ bytes: [UInt8]) {
    var exchange = MetadataExchange()
    let peers = [PeerKey(1), PeerKey(2)]
    for peer in peers { _ = exchange.peerJoined(peer, fast: true) }
    let now = ContinuousClock.now
    var offset = 0
    var turn = 0
    while offset + 3 <= bytes.count {
        let id = bytes[offset] % 3
        let length = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
        let payload = Array(bytes[offset + 3..<min(bytes.count, offset + 3 + length)])
        offset += 3 + length
        let peer = peers[turn % 2]
        turn += 1
        for action in exchange.received(.extended(id: id, payload: payload), from: peer, now: now) {
            switch action {
            case .send(let key, _): precondition(peers.contains(key), "sent to an unknown peer")
            case .drop, .check: break
            }
        }
    }
    _ = exchange.tick(now: now + .seconds(60))
}
