import Testing

@testable import Reactor

@Suite struct DigestTests {
    // FIPS 180 test vectors: a digest that is fast but wrong would corrupt every torrent.
    @Test func matchesKnownVectors() {
        #expect(Hex.of(Digest.hash(.sha1, Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Hex.of(Digest.hash(.sha1, [UInt8]())) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(
            Hex.of(Digest.hash(.sha256, Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Hex.of(Digest.hash(.sha1, million)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    // Two streams hashed together give each one's own digest, at every length across the block
    // and padding boundaries, for known vectors and for a piece (SHA-NI, or OpenSSL in turn).
    @Test func pairMatchesEachOnItsOwn() {
        let data = (0..<600_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        data.withUnsafeBytes { bytes in
            for length in Array(0...300) + [262_144, 262_143, 299_999] {
                let first = UnsafeRawBufferPointer(rebasing: bytes[0..<length])
                let second = UnsafeRawBufferPointer(rebasing: bytes[300_001..<300_001 + length])
                let (one, two) = Digest.sha1Pair(first, second)
                #expect(one == Digest.hash(.sha1, first), "length \(length)")
                #expect(two == Digest.hash(.sha1, second), "length \(length)")
            }
        }
        let abc = Array("abc".utf8)
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let (vector, _) = abc.withUnsafeBytes { Digest.sha1Pair($0, $0) }
        #expect(Hex.of(vector) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        let (_, long) = million.withUnsafeBytes { Digest.sha1Pair($0, $0) }
        #expect(Hex.of(long) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    // Streaming in uneven chunks gives the one-shot digest, and finish() resets for reuse.
    @Test func streamingMatchesOneShot() {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let digest = Digest(.sha1)
        var offset = 0
        var chunk = 1
        while offset < data.count {
            let end = min(offset + chunk, data.count)
            digest.update(data[offset..<end])
            offset = end
            chunk = chunk * 3 + 1
        }
        #expect(digest.finish() == Digest.hash(.sha1, data))
        digest.update(Array("abc".utf8))
        #expect(Hex.of(digest.finish()) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}

/// Hex for assertions, kept here so these tests depend on Reactor alone.
enum Hex {
    static func of(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
