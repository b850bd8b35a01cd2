import Testing

@testable import TorrentCore

@Suite struct UDPDatagramKindTests {
    // KRPC, tracker replies and uTP packets are told apart by their first bytes; anything else
    // (too short, wrong version, empty) is unknown.
    @Test func classifiesByShape() {
        #expect(UDPDatagramKind(classifying: Array("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe".utf8)) == .krpc)
        let connect = UDPTrackerPacket.connectResponse(transaction: 7, connectionID: 9).encoded()
        #expect(UDPDatagramKind(classifying: connect) == .trackerReply)
        #expect(UDPDatagramKind(classifying: UDPTrackerPacket.error(transaction: 7, message: "no").encoded()) == .trackerReply)
        // uTP ST_SYN (type 4, version 1) with a 20-byte header.
        #expect(UDPDatagramKind(classifying: [0x41] + [UInt8](repeating: 0, count: 19)) == .utp)
        #expect(UDPDatagramKind(classifying: [0x01] + [UInt8](repeating: 0, count: 19)) == .utp)
        #expect(UDPDatagramKind(classifying: [0x42] + [UInt8](repeating: 0, count: 19)) == .unknown)
        #expect(UDPDatagramKind(classifying: [0x51] + [UInt8](repeating: 0, count: 19)) == .unknown)
        #expect(UDPDatagramKind(classifying: [0, 0, 0, 9, 0, 0, 0, 0]) == .unknown)
        #expect(UDPDatagramKind(classifying: Array("d".utf8)) == .unknown)
        #expect(UDPDatagramKind(classifying: []) == .unknown)
    }
}
