import TorrentCore

// The peer-discovery parsers: the first byte picks one, the rest is its input.
// - Even: a ut_pex payload (BEP 11). It never crashes the decoder; a decoded message has no
//   more than the cap per list, no peer both added and dropped, and encodes to bytes that decode
//   to it again; fed to a PexState as the current peers it yields a message within its limits.
// - Odd: a local service discovery packet (BEP 14). It never crashes; a decoded one has a port
//   and 1...20 hashes, and what it encodes decodes to it again; the schedule never takes its own
//   cookie's echo.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDiscovery(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] % 2 == 0 { pex(bytes) } else { lsd(bytes) }
    return 0
}

private func pex(_ bytes: [UInt8]) {
    guard let message = try? PexMessage(decoding: bytes) else { return }
    precondition(message.added.count <= 2 * PexMessage.maxEntries && message.dropped.count <= 2 * PexMessage.maxEntries)
    precondition(Set(message.added.map(\.peer)).isDisjoint(with: message.dropped), "a peer both added and dropped")
    guard let again = try? PexMessage(decoding: message.encoded()) else { preconditionFailure("encoded message does not decode") }
    precondition(Set(again.added) == Set(message.added) && Set(again.dropped) == Set(message.dropped), "round trip changed the message")
    var state = PexState()
    if let sent = state.message(current: message.added, now: .now) {
        precondition(sent.added.count <= PexState.maxFirst && !sent.added.isEmpty)
    }
}

private func lsd(_ bytes: [UInt8]) {
    guard let announcement = try? LSDAnnouncement(decoding: bytes) else { return }
    precondition(announcement.peerPort > 0 && (1...LSDAnnouncement.maxHashes).contains(announcement.infoHashes.count))
    guard let again = try? LSDAnnouncement(decoding: announcement.encoded(host: "239.192.152.143:6771")) else {
        preconditionFailure("encoded announcement does not decode")
    }
    precondition(again == announcement, "round trip changed the announcement")
    var schedule = LSDSchedule(cookie: announcement.cookie)
    if !announcement.cookie.isEmpty {
        precondition(schedule.heard(announcement, from: "10.0.0.1", now: .now).isEmpty, "took its own echo")
    }
}
