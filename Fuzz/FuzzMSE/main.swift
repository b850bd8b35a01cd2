import TorrentCore

// The MSE/PE handshake's receiver and initiator fed arbitrary bytes, whole and split in two at
// a point the input picks: neither crashes, and a receiver finishes only for the one torrent it
// knows. SHA-1 and the secret are stand-ins (the machine is under test, not the arithmetic).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMSE(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let split = bytes.isEmpty ? 0 : Int(data[0]) % (bytes.count + 1)
    let known = InfoHash(bytes: [UInt8](repeating: 5, count: 20))!
    let crypto = MSEHandshake.Crypto(
        publicKey: [UInt8](repeating: 2, count: 96), secret: { peer in peer.count == 96 ? peer.map { $0 ^ 0x5A } : nil },
        sha1: stand_in_sha1, pad: { _ in [] })
    let req2 = MSEHandshake.req2(known, sha1: stand_in_sha1)
    var receiver = MSEHandshake(receiverAccepting: [.rc4, .plaintext], lookup: { $0 == req2 ? known : nil }, crypto: crypto)
    var initiator = MSEHandshake(initiatorFor: known, provide: .rc4, initialPayload: [1, 2, 3], crypto: crypto)
    for side in [0, 1] {
        for part in [bytes[..<split], bytes[split...]] {
            let outcome = side == 0 ? receiver.received(part) { _ in } : initiator.received(part) { _ in }
            if case .done(let result) = outcome { precondition(result.infoHash == known, "finished for a torrent it does not know") }
            if case .pending = outcome { continue }
            break
        }
    }
    return 0
}

/// A 20-byte digest stand-in (not SHA-1: fast, deterministic, enough for the state machine).
private func stand_in_sha1(_ bytes: [UInt8]) -> [UInt8] {
    var state = [UInt8](repeating: 0x67, count: 20)
    for (index, byte) in bytes.enumerated() { state[index % 20] = state[index % 20] &* 31 &+ byte }
    return state
}
