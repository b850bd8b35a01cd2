import Testing

@testable import TorrentCore

@Suite struct UDPTrackerPacketTests {
    private let hash = InfoHash(bytes: (1...20).map { UInt8($0) })!

    // The connect request is exactly BEP 15's 16 bytes: magic, action 0, transaction id.
    @Test func connectRequestLayout() {
        #expect(
            UDPTrackerPacket.connectRequest(transaction: 0xDEAD_BEEF).encoded()
                == [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF])
    }

    // The announce request is 98 bytes with the fields at BEP 15's offsets.
    @Test func announceRequestLayout() {
        var request = AnnounceRequest(infoHash: hash, peerID: [UInt8](repeating: 0x41, count: 20), port: 6881)
        request.downloaded = 1
        request.left = 2
        request.uploaded = 3
        request.event = .started
        request.key = "1f"
        request.numwant = 50
        let bytes = UDPTrackerPacket.announceRequest(connectionID: 0x0102_0304_0506_0708, transaction: 9, request: request).encoded()
        #expect(bytes.count == 98)
        #expect(Array(bytes[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Array(bytes[8..<16]) == [0, 0, 0, 1, 0, 0, 0, 9])
        #expect(Array(bytes[16..<36]) == hash.bytes)
        #expect(bytes[63] == 1 && bytes[71] == 2 && bytes[79] == 3)  // downloaded, left, uploaded
        #expect(bytes[83] == 2)  // event: started
        #expect(Array(bytes[88..<92]) == [0, 0, 0, 0x1F])  // key
        #expect(Array(bytes[92..<96]) == [0, 0, 0, 50])  // num_want
        #expect(Array(bytes[96..<98]) == [0x1A, 0xE1])  // port 6881
    }

    // Responses decode: connect, announce (IPv4 and IPv6 peers, a ragged tail ignored), scrape, error.
    @Test func decodesResponses() {
        let connect = UDPTrackerPacket.connectResponse(transaction: 7, connectionID: 0xAABB_CCDD_EEFF_0011)
        #expect(UDPTrackerPacket.decodeResponse(connect.encoded()) == connect)
        let v4 = UDPTrackerPacket.announceResponse(
            transaction: 1, interval: 1800, leechers: 2, seeders: 3,
            peers: [TrackerPeer(ip: [127, 0, 0, 1], port: 1), TrackerPeer(ip: [10, 0, 0, 2], port: 2)])
        #expect(UDPTrackerPacket.decodeResponse(v4.encoded() + [9, 9, 9]) == v4)
        let v6 = UDPTrackerPacket.announceResponse(
            transaction: 1, interval: 60, leechers: 0, seeders: 1, peers: [TrackerPeer(ip: [UInt8](repeating: 0, count: 15) + [1], port: 6881)])
        #expect(UDPTrackerPacket.decodeResponse(v6.encoded(), ipv6: true) == v6)
        let scrape = UDPTrackerPacket.scrapeResponse(transaction: 4, counts: [(1, 2, 3), (4, 5, 6)])
        #expect(UDPTrackerPacket.decodeResponse(scrape.encoded()) == scrape)
        #expect(UDPTrackerPacket.decodeResponse(UDPTrackerPacket.error(transaction: 5, message: "go away").encoded())
            == .error(transaction: 5, message: "go away"))
    }

    // Anything too short or with an unknown action is nil, not a crash.
    @Test func rejectsGarbage() {
        for bytes: [UInt8] in [[], [0, 0, 0, 0], [0, 0, 0, 9, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 1, 5]] {
            #expect(UDPTrackerPacket.decodeResponse(bytes) == nil, "\(bytes)")
        }
        // A bare announce header (opentracker's refusal) is an error, so the client stops waiting.
        #expect(UDPTrackerPacket.decodeResponse([0, 0, 0, 1, 0, 0, 0, 7, 0, 0]) == .error(transaction: 7, message: "announce refused (empty response)"))
    }

    // BEP 15 retransmission: 15 s, 30 s, 60 s, 120 s, then give up.
    @Test func retransmissionSchedule() {
        #expect((0..<5).map { UDPTrackerSchedule.timeout(attempt: $0) } == [.seconds(15), .seconds(30), .seconds(60), .seconds(120), nil])
        #expect(UDPTrackerSchedule.timeout(attempt: 2, base: .milliseconds(100)) == .milliseconds(400))
    }
}
