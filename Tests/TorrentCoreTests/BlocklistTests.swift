import Testing

@testable import TorrentCore

private func list(_ text: String) -> Blocklist { Blocklist(parsing: Array(text.utf8)) }
private func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] { [a, b, c, d] }

@Suite struct BlocklistTests {
    // The P2P (PeerGuardian) format: description, colon, range; descriptions may hold colons,
    // commas and dashes.
    @Test func readsP2PLines() {
        let blocklist = list("""
            # a comment
            Some Org:1.2.4.0-1.2.4.255
            Weird: name, Inc - ok:10.0.0.5-10.0.0.9

            """)
        #expect(blocklist.ruleCount == 2 && blocklist.skippedLines == 0)
        #expect(blocklist.contains(ip: v4(1, 2, 4, 0)) && blocklist.contains(ip: v4(1, 2, 4, 255)))
        #expect(!blocklist.contains(ip: v4(1, 2, 3, 255)) && !blocklist.contains(ip: v4(1, 2, 5, 0)))
        #expect(blocklist.contains(ip: v4(10, 0, 0, 7)) && !blocklist.contains(ip: v4(10, 0, 0, 10)))
    }

    // eMule's DAT format with zero-padded octets and Windows line ends.
    @Test func readsDATLines() {
        let blocklist = list("001.002.004.000 - 001.002.004.255 , 000 , Some Org\r\n; comment\r\n200.000.000.001-200.000.000.001,100,x\r\n")
        #expect(blocklist.ruleCount == 2 && blocklist.skippedLines == 0)
        #expect(blocklist.contains(ip: v4(1, 2, 4, 9)) && blocklist.contains(ip: v4(200, 0, 0, 1)))
        #expect(!blocklist.contains(ip: v4(200, 0, 0, 2)))
    }

    // CIDR blocks and bare addresses, IPv4 and IPv6; IPv4-mapped IPv6 is looked up as IPv4.
    @Test func readsCIDRAndBareAddresses() {
        let blocklist = list("192.168.0.0/16\n8.8.8.8\n2001:db8::/32\n::1\nfe80::1-fe80::ff\n0.0.0.0/0x\n")
        #expect(blocklist.ruleCount == 5 && blocklist.skippedLines == 1)
        #expect(blocklist.contains(ip: v4(192, 168, 255, 1)) && !blocklist.contains(ip: v4(192, 169, 0, 0)))
        #expect(blocklist.contains(ip: v4(8, 8, 8, 8)) && !blocklist.contains(ip: v4(8, 8, 8, 9)))
        var inside = [UInt8](repeating: 0, count: 16)
        inside[0] = 0x20; inside[1] = 0x01; inside[2] = 0x0d; inside[3] = 0xb8; inside[15] = 7
        #expect(blocklist.contains(ip: inside))
        inside[3] = 0xb9
        #expect(!blocklist.contains(ip: inside))
        let loopback6 = [UInt8](repeating: 0, count: 15) + [1]
        #expect(blocklist.contains(ip: loopback6))
        var linkLocal = [UInt8](repeating: 0, count: 16)
        linkLocal[0] = 0xfe; linkLocal[1] = 0x80; linkLocal[15] = 0x80
        #expect(blocklist.contains(ip: linkLocal))
        let mapped = [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 8, 8, 8, 8]
        #expect(blocklist.contains(ip: mapped))
    }

    // Overlapping and adjacent ranges merge; the whole address space is one rule.
    @Test func mergesRanges() {
        let blocklist = list("a:1.0.0.0-1.0.0.10\nb:1.0.0.5-1.0.0.20\nc:1.0.0.21-1.0.0.30\nd:1.0.0.40-1.0.0.50\n")
        #expect(blocklist.ruleCount == 2)
        #expect(blocklist.contains(ip: v4(1, 0, 0, 30)) && !blocklist.contains(ip: v4(1, 0, 0, 31)))
        #expect(list("0.0.0.0/0\n255.255.255.255\n").ruleCount == 1)
        let both = list("1.0.0.0/8\n").merged(with: list("2.0.0.0/8\n4.0.0.0/8\n"))
        #expect(both.ruleCount == 2 && both.contains(ip: v4(2, 1, 1, 1)) && both.contains(ip: v4(4, 1, 1, 1)))
        #expect(!both.contains(ip: v4(3, 1, 1, 1)) && !both.contains(ip: v4(5, 0, 0, 0)))
    }

    // Lines that are no rule are counted and skipped; the rest still count.
    @Test func skipsBadLinesAndKeepsTheRest() {
        let blocklist = list("""
            garbage
            x:1.2.3.4-1.2.3
            x:1.2.3.256-1.2.4.0
            x:1.2.3.9-1.2.3.1
            1.2.3.4/33
            1::2::3
            12345::1
            x:
            ok:9.9.9.9-9.9.9.9
            """)
        #expect(blocklist.ruleCount == 1)
        #expect(blocklist.skippedLines == 8)
        #expect(blocklist.contains(ip: v4(9, 9, 9, 9)))
        #expect(list("").isEmpty && list("\n\n# only comments\n").skippedLines == 0)
    }

    // The address parsers against known values.
    @Test func parsesAddresses() {
        func six(_ text: String) -> UInt128? { Array(text.utf8).withUnsafeBufferPointer { Blocklist.ipv6($0) } }
        func four(_ text: String) -> UInt32? { Array(text.utf8).withUnsafeBufferPointer { Blocklist.ipv4($0) } }
        #expect(four("10.0.0.1") == 0x0A00_0001 && four("010.000.000.001") == 0x0A00_0001)
        #expect(four("1.2.3") == nil && four("1.2.3.4.5") == nil && four("1..2.3") == nil && four("") == nil)
        #expect(six("::") == 0 && six("::1") == 1)
        #expect(six("1::") == UInt128(1) << 112)
        #expect(six("1:2:3:4:5:6:7:8") == (UInt128(0x0001_0002_0003_0004) << 64 | 0x0005_0006_0007_0008))
        #expect(six("::ffff:1.2.3.4") == (UInt128(0xFFFF) << 32 | 0x0102_0304))
        #expect(six("1:2:3:4:5:6:7") == nil && six("1:2:3:4:5:6:7:8:9") == nil && six("1:") == nil)
        #expect(six("g::1") == nil && six("1:::2") == nil)
    }
}
