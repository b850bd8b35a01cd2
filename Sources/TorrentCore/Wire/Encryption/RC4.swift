/// RC4, the stream cipher of MSE/PE, with the first bytes of keystream discarded as MSE asks
/// (1024). Our own: OpenSSL 3 keeps RC4 in its legacy provider only, which Transmission 3.00 failed
/// to load, and this one measured faster than OpenSSL's (Benchmarks/mse; RESULTS.md, "MSE costs").
///
/// The state is kept as 32-bit words, not bytes: x86 then does the swaps without partial-register
/// merges (about 1.7x the byte version). The indices are bytes, so they wrap by themselves, and
/// each keystream byte is XORed straight into the data: gathering eight into a word first cost
/// more than it saved (2.29 against 2.10 CPU s/GiB, Benchmarks/mse).
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
        var i = UInt8(truncatingIfNeeded: i), j = UInt8(truncatingIfNeeded: j)
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        for offset in 0..<count {
            i &+= 1
            let si = s[Int(i)]
            j &+= UInt8(truncatingIfNeeded: si)
            let sj = s[Int(j)]
            s[Int(i)] = sj
            s[Int(j)] = si
            bytes[offset] ^= UInt8(truncatingIfNeeded: s[Int(UInt8(truncatingIfNeeded: si &+ sj))])
        }
        return (UInt32(i), UInt32(j))
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
