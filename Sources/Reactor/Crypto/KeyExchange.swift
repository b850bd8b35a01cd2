internal import COpenSSL

/// One side of a finite-field Diffie-Hellman exchange over a given prime with generator 2 (MSE/PE
/// uses a 768-bit prime and a 160-bit private exponent), on OpenSSL's BIGNUM. Keys and the secret
/// are big-endian, left-padded to the prime's length.
public final class KeyExchange: @unchecked Sendable {
    private let prime: OpaquePointer
    private let privateKey: OpaquePointer
    private let length: Int
    /// Our public key: 2^x mod p.
    public let publicKey: [UInt8]

    /// A fresh private key of `privateBits` random bits and its public key, for `prime`.
    public init(prime primeBytes: [UInt8], privateBits: Int = 160) {
        length = primeBytes.count
        prime = primeBytes.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }!
        privateKey = BN_new()!
        precondition(BN_rand(privateKey, Int32(privateBits), -1, 0) == 1, "BN_rand failed")
        let generator = BN_new()!
        BN_set_word(generator, 2)
        let context = BN_CTX_new()!
        let y = BN_new()!
        precondition(BN_mod_exp(y, generator, privateKey, prime, context) == 1, "BN_mod_exp failed")
        publicKey = Self.bytes(y, length: primeBytes.count)
        BN_free(y)
        BN_free(generator)
        BN_CTX_free(context)
    }

    deinit {
        BN_clear_free(privateKey)
        BN_free(prime)
    }

    /// The shared secret from the peer's public key, or nil if the key is out of range (0, 1,
    /// p-1 or more: a peer forcing a trivial secret) or not the prime's length.
    public func secret(_ peerKey: [UInt8]) -> [UInt8]? {
        guard peerKey.count == length else { return nil }
        let peer = peerKey.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }!
        defer { BN_free(peer) }
        let limit = BN_dup(prime)!
        defer { BN_free(limit) }
        BN_sub_word(limit, 1)
        guard BN_cmp(peer, BN_value_one()) > 0, BN_cmp(peer, limit) < 0 else { return nil }
        let context = BN_CTX_new()!
        defer { BN_CTX_free(context) }
        let shared = BN_new()!
        defer { BN_clear_free(shared) }
        guard BN_mod_exp(shared, peer, privateKey, prime, context) == 1 else { return nil }
        return Self.bytes(shared, length: length)
    }

    private static func bytes(_ number: OpaquePointer, length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        _ = out.withUnsafeMutableBufferPointer { BN_bn2binpad(number, $0.baseAddress, Int32(length)) }
        return out
    }

    /// `count` random bytes from OpenSSL's generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 { precondition(out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) } == 1, "RAND_bytes failed") }
        return out
    }
}
