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
