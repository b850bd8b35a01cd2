/// Why a .torrent file cannot be used. Each case says what is wrong in words a user can act on.
public enum MetainfoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is not valid bencode.
    case bencode(BencodeError)
    /// The top level is not a dictionary.
    case notADictionary
    /// A required key is absent (`info`, `name`, `piece length`, `pieces`, `length`, `path`).
    case missingKey(String)
    /// A key holds the wrong kind of value.
    case wrongType(key: String, expected: String)
    /// The piece length is zero, negative or absurdly large.
    case invalidPieceLength(Int64)
    /// The `pieces` string is not a whole number of 20-byte SHA-1 digests.
    case piecesNotMultipleOf20(Int)
    /// The number of piece hashes does not match the total size.
    case pieceCountMismatch(expected: Int, actual: Int)
    /// A file length is negative, or the lengths add up past 2^63.
    case invalidFileLength(path: String, length: Int64)
    /// The torrent describes no data at all.
    case emptyTorrent
    /// A name or path component that could escape the download directory or is not a usable name.
    case unsafePath(path: String, reason: String)
    /// Two files with the same path, or a file whose path is also used as a directory.
    case conflictingPaths(String)
    /// A BitTorrent v2-only torrent (BEP 52), which this version cannot download or seed.
    case v2Only

    public var description: String {
        switch self {
        case .bencode(let error): return "not a torrent file: \(error)"
        case .notADictionary: return "not a torrent file: the top level is not a dictionary"
        case .missingKey(let key): return "invalid torrent: required key '\(key)' is missing"
        case .wrongType(let key, let expected): return "invalid torrent: '\(key)' should be \(expected)"
        case .invalidPieceLength(let length):
            return "invalid torrent: piece length \(length) is not between 1 byte and 1 GiB"
        case .piecesNotMultipleOf20(let count):
            return "invalid torrent: 'pieces' has \(count) bytes, not a multiple of 20"
        case .pieceCountMismatch(let expected, let actual):
            return "invalid torrent: the files need \(expected) piece hashes but 'pieces' has \(actual)"
        case .invalidFileLength(let path, let length):
            return "invalid torrent: file '\(path)' has an invalid length \(length)"
        case .emptyTorrent: return "invalid torrent: it holds no data (total size 0)"
        case .unsafePath(let path, let reason):
            return "unsafe torrent: file path '\(path)' \(reason); refusing to touch the disk"
        case .conflictingPaths(let path): return "invalid torrent: path '\(path)' is used twice"
        case .v2Only: return "unsupported torrent: BitTorrent v2-only torrents (BEP 52) are not supported yet"
        }
    }
}
