import Testing

@testable import TorrentCore

@Suite struct MagnetLinkTests {
    private let hex = "61b76df4eba11f7f50fe5177e4aafe9c3c2c0bc2"

    // The usual magnet: hex hash, name and trackers, each percent-decoded.
    @Test func parsesHexMagnet() throws {
        let magnet = try MagnetLink(
            parsing: "magnet:?xt=urn:btih:\(hex.uppercased())&dn=My+File%20(1)&tr=http%3A%2F%2Ft%2Fa&tr=udp://u:1&ws=http://w/&x.pe=1.2.3.4:5")
        #expect(magnet.infoHash.hex == hex)
        #expect(magnet.displayName == "My File (1)")
        #expect(magnet.trackers == ["http://t/a", "udp://u:1"])
        #expect(magnet.webSeeds == ["http://w/"])
        #expect(magnet.peers == ["1.2.3.4:5"])
    }

    // BEP 9 allows a 32-character base32 hash; it names the same torrent as the hex form.
    @Test func parsesBase32Hash() throws {
        let bytes = try #require(InfoHash(text: hex)).bytes
        let base32 = Base32.encode(bytes)
        #expect(base32.count == 32)
        #expect(try MagnetLink(parsing: "magnet:?xt=urn:btih:\(base32)").infoHash.hex == hex)
        #expect(try MagnetLink(parsing: "magnet:?xt=urn:btih:\(base32.lowercased())").infoHash.hex == hex)
    }

    // What we print parses back to the same link; special characters survive.
    @Test func formatsAndRoundTrips() throws {
        let magnet = MagnetLink(
            infoHash: try #require(InfoHash(text: hex)), displayName: "a b&c=d/é", trackers: ["http://t/a?x=1&y=2"],
            webSeeds: ["http://w/"])
        #expect(magnet.uri.hasPrefix("magnet:?xt=urn:btih:\(hex)&dn=a%20b%26c%3Dd%2F%C3%A9&tr=http%3A%2F%2Ft%2Fa%3Fx%3D1%26y%3D2"))
        #expect(try MagnetLink(parsing: magnet.uri) == magnet)
    }

    // Bad links say what is wrong.
    @Test func rejectsBadLinks() {
        #expect(throws: MagnetError.notAMagnet) { try MagnetLink(parsing: "http://x") }
        #expect(throws: MagnetError.missingInfoHash) { try MagnetLink(parsing: "magnet:?dn=x") }
        #expect(throws: MagnetError.invalidInfoHash("1234")) { try MagnetLink(parsing: "magnet:?xt=urn:btih:1234") }
        #expect(throws: MagnetError.invalidInfoHash(String(repeating: "g", count: 40))) {
            try MagnetLink(parsing: "magnet:?xt=urn:btih:" + String(repeating: "g", count: 40))
        }
        #expect(throws: MagnetError.malformedEscape("dn=%4")) { try MagnetLink(parsing: "magnet:?xt=urn:btih:\(hex)&dn=%4") }
        #expect(throws: MagnetError.v2Only) {
            try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220" + String(repeating: "a", count: 64))
        }
    }
}

@Suite struct EncodingTests {
    // Hex and base32 invert each other for every byte value, and reject junk.
    @Test func hexAndBase32RoundTrip() {
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.decode(Array(Hex.encode(all).utf8)) == all)
        for length in 0..<25 {
            let bytes = Array(all[0..<length].reversed())
            #expect(Base32.decode(Array(Base32.encode(bytes).utf8)) == bytes)
        }
        #expect(Hex.decode(Array("abc".utf8)) == nil)
        #expect(Hex.decode(Array("zz".utf8)) == nil)
        #expect(Base32.decode(Array("AB1".utf8)) == nil)
        #expect(InfoHash(text: "xyz") == nil)
    }

    // Percent-encoding keeps unreserved characters and escapes every other byte; decoding inverts it.
    @Test func percentEncodingRoundTrips() {
        let all = (0...255).map { UInt8($0) }
        let encoded = PercentEncoding.encode(all)
        #expect(PercentEncoding.decode(encoded, plusIsSpace: false) == all)
        #expect(PercentEncoding.encode(Array("aZ0-._~ /".utf8)) == "aZ0-._~%20%2F")
        #expect(PercentEncoding.decode("%zz") == nil)
        #expect(PercentEncoding.decode("abc%") == nil)
        #expect(PercentEncoding.decode("a+b") == Array("a b".utf8))
    }
}

@Suite struct BitfieldTests {
    // Piece 0 is the high bit of byte 0; spare bits stay clear even when all pieces are set.
    @Test func bitOrderAndSpareBits() {
        var field = Bitfield(count: 10)
        field[PieceIndex(0)] = true
        field[PieceIndex(9)] = true
        #expect(field.bytes == [0x80, 0x40])
        #expect(field.setCount == 2)
        #expect(Bitfield(count: 10, allSet: true).bytes == [0xFF, 0xC0])
        #expect(Bitfield(count: 10, allSet: true).isFull)
    }

    // A wire bitfield with a spare bit set or the wrong length is refused (BEP 3).
    @Test func rejectsMalformedWireBitfields() {
        #expect(Bitfield(bytes: [0xFF, 0xC0], count: 10) != nil)
        #expect(Bitfield(bytes: [0xFF, 0xE0], count: 10) == nil)
        #expect(Bitfield(bytes: [0xFF], count: 10) == nil)
        #expect(Bitfield(bytes: [0xFF, 0, 0], count: 10) == nil)
    }

    // An all-set field keeps no bits until one is cleared, and reads, compares, hashes, unites
    // and subtracts as the same field with its bits kept does.
    @Test func allSetFieldKeepsNoBits() {
        for count in [1, 8, 10, 77] {
            let compact = Bitfield(count: count, allSet: true)
            var kept = Bitfield(count: count)
            for piece in 0..<count { kept[PieceIndex(piece)] = true }
            #expect(compact.isCompactFull && !kept.isCompactFull, "\(count)")
            #expect(compact == kept && compact.hashValue == kept.hashValue && compact.bytes == kept.bytes)
            #expect(compact.setCount == count && compact.isFull && !compact.isEmpty && compact[PieceIndex(count - 1)])
            let wire = Bitfield(bytes: kept.bytes, count: count)
            #expect(wire?.isCompactFull == true && wire == kept)

            var cleared = compact
            cleared[PieceIndex(0)] = false
            #expect(!cleared.isCompactFull && cleared.setCount == count - 1 && !cleared[PieceIndex(0)] && !cleared.isFull)
            var stillFull = compact
            stillFull[PieceIndex(0)] = true
            #expect(stillFull.isCompactFull)

            var union = Bitfield(count: count)
            union[PieceIndex(0)] = true
            union.formUnion(compact)
            #expect(union.isFull && union == compact)
            var subtracted = compact
            var one = Bitfield(count: count)
            one[PieceIndex(count - 1)] = true
            subtracted.subtract(one)
            #expect(subtracted.setCount == count - 1 && !subtracted[PieceIndex(count - 1)])
            subtracted.subtract(compact)
            #expect(subtracted.isEmpty && subtracted == Bitfield(count: count))
            #expect(compact != cleared && Bitfield(count: count) != compact)
        }
        #expect(Bitfield(count: 0, allSet: true) == Bitfield(count: 0) && Bitfield(count: 0, allSet: true).isEmpty)
    }
}
