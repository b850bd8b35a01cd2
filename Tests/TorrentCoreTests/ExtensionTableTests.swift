import Testing

@testable import TorrentCore

@Suite struct ExtensionTableTests {
    let start = ContinuousClock.now

    // Our ids go out in the handshake's `m`; incoming messages are named by our ids, outgoing
    // ones carry the peer's; an id we never assigned is ignored; the peer may disable one with 0.
    @Test func mapsIdsBothWays() throws {
        var configuration = PeerSessionConfiguration(pieceLength: 16_384, totalLength: 16_384)
        configuration.extensionNames = ["ut_a", "ut_b"]
        var session = PeerSession(
            configuration: configuration, ours: Bitfield(count: 1, allSet: true), peerSupportsFast: true,
            peerSupportsExtensions: true, now: start)
        guard case .send(.extended(0, let payload)) = session.start(now: start).first else {
            Issue.record("no extension handshake")
            return
        }
        #expect(try ExtensionHandshake(payload: payload).messages == ["ut_a": 1, "ut_b": 2])

        var theirs = ExtensionHandshake()
        theirs.messages = ["ut_b": 7, "ut_other": 3]
        _ = try session.received(.extended(id: 0, payload: theirs.payload()), now: start)
        #expect(try session.received(.extended(id: 2, payload: [1, 2]), now: start) == [.extensionMessage("ut_b", [1, 2])])
        #expect(try session.received(.extended(id: 9, payload: [1]), now: start).isEmpty)
        #expect(session.sendExtension("ut_b", payload: [5]) == [.send(.extended(id: 7, payload: [5]))])
        #expect(session.sendExtension("ut_a", payload: [5]).isEmpty)

        theirs.messages = ["ut_b": 0]
        _ = try session.received(.extended(id: 0, payload: theirs.payload()), now: start)
        #expect(session.sendExtension("ut_b", payload: [5]).isEmpty)
    }

    // Ids out of range in a peer's `m` are ignored; at most 255 of ours are numbered.
    @Test func ignoresOutOfRangeIds() {
        var table = ExtensionTable(speaking: (0..<300).map { "x\($0)" })
        #expect(table.ours.count == 255 && table.name(ofIncoming: 255) == "x254")
        table.peerAnnounced(["x1": 256, "x2": -1, "x3": 4])
        #expect(table.outgoingID(for: "x1") == nil && table.outgoingID(for: "x2") == nil && table.outgoingID(for: "x3") == 4)
    }
}
