/// A transform of one connection's byte stream under the wire codec: MSE/PE's RC4, one keystream
/// each way. Each byte goes through it exactly once, in stream order, in place. Plaintext
/// connections have none and keep the zero-copy payload path; a transformed connection copies
/// each file block to cipher it (DESIGN §2).
public protocol StreamTransform: AnyObject {
    /// Deciphers bytes that arrived.
    func inbound(_ bytes: UnsafeMutableRawBufferPointer)
    /// Ciphers bytes about to be sent.
    func outbound(_ bytes: UnsafeMutableRawBufferPointer)
}
