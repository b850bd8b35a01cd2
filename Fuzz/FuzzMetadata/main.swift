import TorrentCore

// Properties: a BEP 9 message never crashes the decoder; a decoded message encodes to bytes that
// decode to it again; and fed to an assembly (as from a peer that advertised a size) it never
// crashes the state machine either.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetadata(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
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
