/// RC4, the stream cipher of MSE/PE, with the first bytes of keystream discarded as MSE asks
/// (1024). Our own: OpenSSL 3 keeps RC4 in its legacy provider only, which Transmission 3.00 failed
/// to load; the cipher is a few lines and needs nothing.
public struct RC4: Sendable {
    private var state: [UInt8]
    private var i: UInt8 = 0
    private var j: UInt8 = 0

    /// A keystream from `key`, its first `discard` bytes thrown away.
    public init(key: [UInt8], discard: Int = 1024) {
        precondition(!key.isEmpty)
        var state = [UInt8](repeating: 0, count: 256)
        for index in 0..<256 { state[index] = UInt8(index) }
        var j: UInt8 = 0
        for index in 0..<256 {
            j = j &+ state[index] &+ key[index % key.count]
            state.swapAt(index, Int(j))
        }
        self.state = state
        if discard > 0 { _ = keystream(discard) }
    }

    /// Ciphers (or deciphers: the same) `bytes` in place.
    public mutating func apply(_ bytes: UnsafeMutableRawBufferPointer) {
        var i = self.i, j = self.j
        state.withUnsafeMutableBufferPointer { s in
            for index in 0..<bytes.count {
                i = i &+ 1
                let si = s[Int(i)]
                j = j &+ si
                let sj = s[Int(j)]
                s[Int(i)] = sj
                s[Int(j)] = si
                bytes[index] ^= s[Int(si &+ sj)]
            }
        }
        self.i = i
        self.j = j
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
