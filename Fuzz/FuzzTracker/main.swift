import TorrentCore

// Properties, for any bytes a tracker answers: the HTTP announce and scrape parsers and the UDP
// packet decoder never crash; an announce answer that parses re-encodes (compact) to one that
// parses to the same peers, interval and counts; a UDP packet that decodes re-encodes to bytes
// that decode to it again; any text the tracker sent comes out printable. The same bytes as an
// announce query (the embedded tracker's input) never crash its parser, and a swarm registry fed
// the request answers within numwant.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTracker(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let response = try AnnounceResponse(bencoded: bytes)
        let again = try AnnounceResponse(bencoded: response.encoded(compact: true))
        precondition(again.peers == response.peers && again.interval == response.interval, "announce answer does not round-trip")
        precondition(again.complete == response.complete && again.incomplete == response.incomplete, "counts do not round-trip")
        if let warning = response.warning { precondition(warning == warning.printable(limit: .max), "warning not printable") }
    } catch {
        if case .failure(let reason) = error { precondition(reason == reason.printable(limit: .max), "failure reason not printable") }
    }
    let hash = InfoHash(bytes: [UInt8](repeating: 0xAB, count: 20))!
    _ = try? ScrapeCounts(bencoded: bytes, infoHash: hash)
    for ipv6 in [false, true] {
        guard let packet = UDPTrackerPacket.decodeResponse(bytes, ipv6: ipv6) else { continue }
        if case .error(_, let message) = packet { precondition(message == message.printable(limit: .max), "UDP error not printable") }
        guard let again = UDPTrackerPacket.decodeResponse(packet.encoded(), ipv6: ipv6) else { preconditionFailure("\(packet) does not decode again") }
        if case .error = packet { continue }  // the text was made printable on the way in
        precondition(again == packet, "UDP packet does not round-trip")
    }
    if let request = try? AnnounceRequest(query: String(decoding: bytes, as: UTF8.self)) {
        var registry = SwarmRegistry(interval: .seconds(60), maxPeersPerTorrent: 8)
        var random = SystemRandomNumberGenerator()
        let answer = registry.announce(request, ip: [127, 0, 0, 1], now: .now, random: &random)
        precondition((answer?.peers.count ?? 0) <= max(0, request.numwant), "more peers than numwant")
    }
    return 0
}
