internal import COpenSSL

/// A digest algorithm OpenSSL computes for us.
public enum DigestAlgorithm: Sendable {
    /// SHA-1: v1 piece hashes and info hashes (BEP 3).
    case sha1
    /// SHA-256: v2 merkle trees (BEP 52).
    case sha256

    /// The digest length in bytes.
    public var length: Int { self == .sha1 ? 20 : 32 }

    /// The algorithm object, fetched once per process: implicit fetches on every call cost time (LIBEVENT-NOTES §5).
    fileprivate var md: OpaquePointer {
        switch self {
        case .sha1: return FetchedAlgorithms.shared.sha1
        case .sha256: return FetchedAlgorithms.shared.sha256
        }
    }
}

/// The fetched EVP_MD objects. They are immutable once fetched and OpenSSL allows sharing them.
private struct FetchedAlgorithms: @unchecked Sendable {
    let sha1: OpaquePointer
    let sha256: OpaquePointer

    static let shared = FetchedAlgorithms(
        sha1: EVP_MD_fetch(nil, "SHA1", nil)!, sha256: EVP_MD_fetch(nil, "SHA256", nil)!)
}

/// Streaming digest over OpenSSL EVP; owns one EVP_MD_CTX. Not thread-safe: one per thread.
public final class Digest {
    private let context: OpaquePointer
    private let algorithm: DigestAlgorithm

    /// A fresh digest of `algorithm`.
    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        reset()
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes to the digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(EVP_DigestUpdate(context, base, bytes.count) == 1, "EVP_DigestUpdate failed")
    }

    /// Adds bytes to the digest.
    public func update(_ bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    /// The digest of everything added since the last reset; the digest is then reset for reuse.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: algorithm.length)
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { buffer in
            precondition(EVP_DigestFinal_ex(context, buffer.baseAddress, &length) == 1, "EVP_DigestFinal_ex failed")
        }
        reset()
        return out
    }

    /// Drops what was added since the last reset (a piece given up half way).
    public func reset() {
        precondition(EVP_DigestInit_ex(context, algorithm.md, nil) == 1, "EVP_DigestInit_ex failed")
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: algorithm.length)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            EVP_Digest(bytes.baseAddress, bytes.count, buffer.baseAddress, &length, algorithm.md, nil)
        }
        precondition(ok == 1, "EVP_Digest failed")
        return out
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: some Collection<UInt8>) -> [UInt8] {
        if let digest = bytes.withContiguousStorageIfAvailable({ hash(algorithm, UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(bytes).withUnsafeBytes { hash(algorithm, $0) }
    }

    /// SHA-1 of `bytes`: the function `Metainfo` takes to compute an info hash.
    public static func sha1(_ bytes: ArraySlice<UInt8>) -> [UInt8] { hash(.sha1, bytes) }
}
