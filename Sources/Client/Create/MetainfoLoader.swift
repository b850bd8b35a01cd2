import Reactor
import TorrentCore

/// Why a .torrent file could not be loaded: it could not be read, or it is not a valid torrent.
public enum LoadError: Error, Sendable, CustomStringConvertible {
    /// Reading the file failed.
    case unreadable(SystemError)
    /// The bytes are not a usable torrent.
    case invalid(path: String, MetainfoError)

    public var description: String {
        switch self {
        case .unreadable(let error): return error.description
        case .invalid(let path, let error): return "\(path): \(error)"
        }
    }
}

/// Reads .torrent files from disk.
public enum MetainfoLoader {
    /// The largest .torrent accepted; real ones with millions of pieces stay well below.
    public static let maxTorrentFileBytes = 64 << 20

    /// Reads and validates the torrent at `path` (`strict`: its keys must be sorted, as BEP 3 says).
    public static func load(_ path: String, strict: Bool = false) throws(LoadError) -> Metainfo {
        let bytes: [UInt8]
        do { bytes = try FileContents.read(path, limit: maxTorrentFileBytes) } catch { throw .unreadable(error) }
        return try parse(bytes, path: path, strict: strict)
    }

    /// Validates torrent bytes, naming `path` in any error. `sharingTiers`: see `Metainfo.init`.
    public static func parse(
        _ bytes: [UInt8], path: String, strict: Bool = false, sharingTiers: ([[String]]) -> [[String]] = { $0 }
    ) throws(LoadError) -> Metainfo {
        do { return try Metainfo(bencoded: bytes, sha1: Digest.sha1, strict: strict, sharingTiers: sharingTiers) } catch {
            throw .invalid(path: path, error)
        }
    }
}
