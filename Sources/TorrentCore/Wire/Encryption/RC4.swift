/// RC4, the stream cipher of MSE/PE, with the first bytes of keystream discarded as MSE asks
/// (1024). Our own: OpenSSL 3 keeps RC4 in its legacy provider only, which Transmission 3.00 failed
/// to load, and this one measured faster than OpenSSL's (Benchmarks/mse; RESULTS.md, "MSE costs").
///
/// The state is kept as 32-bit words, not bytes: x86 then does the swaps without partial-register
/// merges and the index arithmetic without zero-extensions (about 1.7x the byte version); eight
/// keystream bytes are gathered into one word and XORed at once.
public struct RC4: Sendable {
    private var state: [UInt32]
    private var i: UInt32 = 0
    private var j: UInt32 = 0

    /// A keystream from `key`, its first `discard` bytes thrown away.
    public init(key: [UInt8], discard: Int = 1024) {
        precondition(!key.isEmpty)
        var state = [UInt32](repeating: 0, count: 256)
        for index in 0..<256 { state[index] = UInt32(index) }
        var j: UInt32 = 0
        for index in 0..<256 {
            j = (j &+ state[index] &+ UInt32(key[index % key.count])) & 0xFF
            state.swapAt(index, Int(j))
        }
        self.state = state
        if discard > 0 { _ = keystream(discard) }
    }

    /// Ciphers (or deciphers: the same) `bytes` in place.
    public mutating func apply(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        (i, j) = state.withUnsafeMutableBufferPointer { buffer in
            Self.cipher(base, count: bytes.count, state: buffer.baseAddress!, i: i, j: j)
        }
    }

    /// The loop itself, on plain locals so that `i` and `j` stay in registers.
    @inline(__always)
    private static func cipher(_ base: UnsafeMutableRawPointer, count: Int, state s: UnsafeMutablePointer<UInt32>, i: UInt32, j: UInt32) -> (UInt32, UInt32) {
        var i = i, j = j
        @inline(__always) func nextByte() -> UInt32 {
            i = (i &+ 1) & 0xFF
            let si = s[Int(i)]
            j = (j &+ si) & 0xFF
            let sj = s[Int(j)]
            s[Int(i)] = sj
            s[Int(j)] = si
            return s[Int((si &+ sj) & 0xFF)]
        }
        var offset = 0
        while offset + 8 <= count {
            var word: UInt64 = 0
            for byte in 0..<8 { word |= UInt64(nextByte()) << (UInt64(byte) &* 8) }
            let pointer = base + offset
            // Little-endian byte order: the first keystream byte meets the first data byte.
            pointer.storeBytes(of: pointer.loadUnaligned(as: UInt64.self) ^ word.littleEndian, as: UInt64.self)
            offset += 8
        }
        while offset < count {
            let key = UInt8(truncatingIfNeeded: nextByte())
            base.storeBytes(of: base.load(fromByteOffset: offset, as: UInt8.self) ^ key, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        return (i, j)
    }

    /// Ciphers `bytes` in place.
    public mutating func apply(_ bytes: inout [UInt8]) { bytes.withUnsafeMutableBytes { apply($0) } }

    /// `bytes` ciphered.
    public mutating func applied(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var copy = Array(bytes)
        apply(&copy)
        return copy
    }

    /// The next `count` bytes of keystream.
    public mutating func keystream(_ count: Int) -> [UInt8] { applied([UInt8](repeating: 0, count: count)) }
}
