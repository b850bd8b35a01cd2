internal import COpenSSL

/// A digest algorithm OpenSSL computes for us.
public enum DigestAlgorithm: Sendable {
    /// SHA-1: v1 piece hashes and info hashes (BEP 3).
    case sha1
    /// SHA-256: v2 merkle trees (BEP 52).
    case sha256

    /// The digest length in bytes.
    public var length: Int { self == .sha1 ? 20 : 32 }

    fileprivate var isSHA256: Int32 { self == .sha256 ? 1 : 0 }
}

/// Streaming digest over OpenSSL's SHA functions, not EVP: the same assembly (SHA-NI), without
/// loading OpenSSL's provider, which maps 2 MB of libcrypto into every process that hashes once
/// (Benchmarks/RESULTS.md). Owns its state. Not thread-safe: one per thread.
public final class Digest {
    private let state: UnsafeMutableRawPointer
    private let algorithm: DigestAlgorithm

    /// A fresh digest of `algorithm`.
    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        state = .allocate(byteCount: evtorrent_digest_state_size(), alignment: 16)
        reset()
    }

    deinit { state.deallocate() }

    /// Adds bytes to the digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        evtorrent_digest_update(algorithm.isSHA256, state, base, bytes.count)
    }

    /// Adds bytes to the digest.
    public func update(_ bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    /// The digest of everything added since the last reset; the digest is then reset for reuse.
    public func finish() -> [UInt8] {
        let out = [UInt8](unsafeUninitializedCapacity: algorithm.length) { buffer, count in
            evtorrent_digest_final(algorithm.isSHA256, state, buffer.baseAddress)
            count = algorithm.length
        }
        reset()
        return out
    }

    /// Drops what was added since the last reset (a piece given up half way).
    public func reset() { evtorrent_digest_init(algorithm.isSHA256, state) }

    /// The digest of `bytes` in one call.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        // The state on the stack: 112 bytes, no allocation.
        withUnsafeTemporaryAllocation(byteCount: evtorrent_digest_state_size(), alignment: 16) { state in
            let flag = algorithm.isSHA256
            evtorrent_digest_init(flag, state.baseAddress)
            if let base = bytes.baseAddress, bytes.count > 0 { evtorrent_digest_update(flag, state.baseAddress, base, bytes.count) }
            return [UInt8](unsafeUninitializedCapacity: algorithm.length) { buffer, count in
                evtorrent_digest_final(flag, state.baseAddress, buffer.baseAddress)
                count = algorithm.length
            }
        }
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: some Collection<UInt8>) -> [UInt8] {
        if let digest = bytes.withContiguousStorageIfAvailable({ hash(algorithm, UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(bytes).withUnsafeBytes { hash(algorithm, $0) }
    }

    /// The SHA-1 digests of two byte ranges of equal length, computed together: with SHA-NI the
    /// two streams' rounds interleave, 1.75× the bytes a core hashes one stream at a time
    /// (COpenSSL's SHA1Pair.h). A recheck hashes two pieces at once this way.
    public static func sha1Pair(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> ([UInt8], [UInt8]) {
        precondition(first.count == second.count, "a pair is hashed over equal lengths")
        guard let a = first.baseAddress, let b = second.baseAddress, first.count > 0 else {
            let empty = hash(.sha1, UnsafeRawBufferPointer(start: nil, count: 0))
            return (empty, empty)
        }
        var one = [UInt8](repeating: 0, count: 20)
        var two = [UInt8](repeating: 0, count: 20)
        one.withUnsafeMutableBufferPointer { outOne in
            two.withUnsafeMutableBufferPointer { outTwo in
                evtorrent_sha1_pair(a, b, first.count, outOne.baseAddress, outTwo.baseAddress)
            }
        }
        return (one, two)
    }

    /// SHA-1 of `bytes`: the function `Metainfo` takes to compute an info hash.
    public static func sha1(_ bytes: ArraySlice<UInt8>) -> [UInt8] { hash(.sha1, bytes) }
}
