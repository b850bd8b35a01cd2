import Testing

@testable import TorrentCore

private func bytes(hex: String) -> [UInt8] { Hex.decode(Array(hex.lowercased().utf8))! }

/// Fixtures made by Python's gzip module (zlib): one per DEFLATE block type.
private let fixedHuffman = bytes(
    hex: "1f8b08000000000002034bb1b04acecf2dc8492d49cd344c3534b0cacc83f30d522d80dc92d4a2b2c49c4c430b03835453ab82d4d4a26233ab7a060646a987a90064e286d73e000000"
)
private let fixedPlain = Array("d8:completei1e10:incompletei0e8:intervali1800e5:peers6:".utf8) + [0x7F, 0, 0, 1, 0x1A, 0xE1] + Array("e".utf8)
private let stored = bytes(hex: "1f8b0800000000000403011100eeff68656c6c6f2068656c6c6f2068656c6c6f8088f9e511000000")
/// 5,000 letters, `"etaoinshrdlu"[(i*i + i/3) % 12]`: compressed with a dynamic Huffman block.
private let dynamic = bytes(
    hex: "1f8b0800000000000203edca410a00200845c1b30a7e489002b5fb7788b66fd6a389dc66a7b522769977af8c5be5eac9bc5647e270381c0e87c3e170381c0e87c3e170385fe701906d34cf88130000"
)
private let dynamicPlain: [UInt8] = (0..<5000).map { Array("etaoinshrdlu".utf8)[($0 * $0 + $0 / 3) % 12] }

@Suite struct GzipTests {
    @Test func decodesEveryBlockType() throws {
        #expect(try Gzip.decompress(fixedHuffman, limit: 1 << 20) == fixedPlain)
        #expect(try Gzip.decompress(stored, limit: 1 << 20) == Array("hello hello hello".utf8))
        #expect(try Gzip.decompress(dynamic, limit: 1 << 20) == dynamicPlain)
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    // Every truncation fails with an error, never a crash or a wrong answer.
    @Test func truncationsAreErrors() {
        for fixture in [fixedHuffman, stored, dynamic] {
            for length in 0..<fixture.count {
                #expect(throws: InflateError.self) { try Gzip.decompress(Array(fixture[..<length]), limit: 1 << 20) }
            }
        }
    }

    // A flipped bit anywhere is caught (bad code, bad length, or the CRC-32) and never traps;
    // only a flip in the unused padding bits after the last block still decodes, correctly.
    @Test func corruptionIsCaught() {
        var caught = 0
        for index in 10..<dynamic.count {
            var damaged = dynamic
            damaged[index] ^= 0x10
            if let decoded = try? Gzip.decompress(damaged, limit: 1 << 20) {
                #expect(decoded == dynamicPlain, "byte \(index)")
            } else {
                caught += 1
            }
        }
        #expect(caught >= dynamic.count - 11)
        #expect(throws: InflateError.invalid("not gzip")) { try Gzip.decompress([0x1F, 0x8C] + dynamic.dropFirst(2), limit: 100) }
    }

    // Output past the limit stops the decoder: a tracker cannot make us allocate without bound.
    @Test func enforcesTheLimit() {
        #expect(throws: InflateError.tooLarge(limit: 1000)) { try Gzip.decompress(dynamic, limit: 1000) }
    }
}
