import Reactor
import TorrentCore

/// Why `create` cannot make a torrent.
public enum CreateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path does not exist.
    case notFound(String)
    /// The path holds no bytes of data (empty file, or a directory of empty files or none).
    case noData(String)
    /// A file changed size or vanished while it was being hashed.
    case changedWhileHashing(String)
    /// A file name that other clients would refuse (see `PathSafety`).
    case unsafeName(String)
    /// A piece length outside 16 KiB ... 1 GiB or not a power of two.
    case invalidPieceLength(Int)
    /// Reading the content failed.
    case system(SystemError)

    public var description: String {
        switch self {
        case .notFound(let path): return "\(path): no such file or directory"
        case .noData(let path): return "\(path): nothing to share (no file with any bytes in it)"
        case .changedWhileHashing(let path): return "\(path) changed while it was being hashed; run create again"
        case .unsafeName(let name): return "'\(name)' cannot be a file name in a torrent"
        case .invalidPieceLength(let length):
            return "piece length \(length) must be a power of two from 16 KiB to 1 GiB"
        case .system(let error): return error.description
        }
    }
}

/// What `create` makes a torrent of: a file or a directory tree, scanned and in torrent order.
public struct ContentScan: Sendable {
    /// The torrent name: the file's or directory's own name.
    public let name: String
    /// Whether the path is a single file.
    public let isSingleFile: Bool
    /// Files in torrent order (paths below the name; empty for a single file).
    public let files: [TorrentFile]
    /// Each file's path on disk, in the same order.
    public let paths: [String]

    /// The total size.
    public var totalLength: Int64 { files.reduce(0) { $0 + $1.length } }

    /// Scans `path`. Directory entries are ordered by their whole relative path compared as bytes,
    /// as mktorrent orders them, so both tools produce the same info hash.
    public init(path: String) throws(CreateError) {
        let root = Self.trimmed(path)
        let status: FileStatus?
        do { status = try FileStatus.of(root) } catch { throw .system(error) }
        guard let status else { throw .notFound(path) }
        name = try Self.displayName(of: root)
        if status.kind == .directory {
            let found: [FoundFile]
            do { found = try DirectoryWalker.files(under: root) } catch { throw .system(error) }
            let sorted = found.sorted {
                Array($0.components.joined(separator: "/").utf8).lexicographicallyPrecedes(
                    Array($1.components.joined(separator: "/").utf8))
            }
            isSingleFile = false
            files = sorted.map { TorrentFile(path: $0.components, length: $0.size) }
            paths = sorted.map { ([root] + $0.components).joined(separator: "/") }
        } else {
            isSingleFile = true
            files = [TorrentFile(path: [], length: status.size)]
            paths = [root]
        }
        guard totalLength > 0 else { throw .noData(path) }
    }

    private static func trimmed(_ path: String) -> String {
        var result = path
        while result.count > 1 && result.hasSuffix("/") { result.removeLast() }
        return result
    }

    /// The last path component, resolving `.`/`..` (and the like) through the real path.
    private static func displayName(of path: String) throws(CreateError) -> String {
        var name = String(path.split(separator: "/").last ?? "")
        if name.isEmpty || name == "." || name == ".." {
            guard let real = RealPath.resolve(path) else { throw .notFound(path) }
            name = String(real.split(separator: "/").last ?? "")
        }
        do { try PathSafety.check(component: Array(name.utf8), in: name) } catch { throw .unsafeName(name) }
        return name
    }
}

/// The choices `evtorrent create` offers, mktorrent-style.
public struct CreateOptions: Sendable {
    /// Tracker tiers; the first URL is also `announce`.
    public var trackerTiers: [[String]] = []
    /// Bytes per piece; nil picks one from the total size.
    public var pieceLength: Int?
    /// BEP 27.
    public var isPrivate = false
    /// Free text.
    public var comment: String?
    /// The `source` tag.
    public var source: String?
    /// BEP 19 web seeds.
    public var webSeeds: [String] = []
    /// The `created by` text.
    public var createdBy: String? = "evtorrent"
    /// Seconds since 1970; nil writes no date (byte-identical output for the same content).
    public var creationDate: Int64?

    /// Default options: automatic piece length, no trackers, no date.
    public init() {}
}

/// Makes .torrent files: scan, hash every piece on the pool, build the metainfo.
public enum TorrentCreator {
    /// Hashes `content` and returns the .torrent file's bytes.
    public static func create(
        _ content: ContentScan, options: CreateOptions, pool: WorkerPool,
        progress: (_ piecesDone: Int, _ pieceCount: Int, _ bytesDone: Int64) -> Void = { _, _, _ in }
    ) throws(CreateError) -> [UInt8] {
        let pieceLength = options.pieceLength ?? MetainfoBuilder.automaticPieceLength(forTotalLength: content.totalLength)
        guard pieceLength >= 16 << 10, pieceLength <= TorrentInfo.maxPieceLength,
            pieceLength & (pieceLength - 1) == 0
        else { throw .invalidPieceLength(pieceLength) }

        var builder =
            content.isSingleFile
            ? MetainfoBuilder(singleFile: content.name, length: content.totalLength, pieceLength: pieceLength)
            : MetainfoBuilder(directory: content.name, files: content.files, pieceLength: pieceLength)
        let location = ContentLocation(layout: builder.layout, paths: content.paths)
        let pieceCount = location.layout.pieceCount
        let outcomes = PieceHasher(pool: pool).hash(location) { done, bytes in progress(done, pieceCount, bytes) }

        var hashes: [UInt8] = []
        hashes.reserveCapacity(pieceCount * 20)
        for outcome in outcomes {
            switch outcome {
            case .digest(let digest): hashes.append(contentsOf: digest)
            case .missingFile(let file), .shortFile(let file): throw .changedWhileHashing(content.paths[file.value])
            case .readFailed(let error): throw .system(error)
            }
        }
        builder.pieceHashes = hashes
        builder.trackerTiers = options.trackerTiers
        builder.webSeeds = options.webSeeds
        builder.isPrivate = options.isPrivate
        builder.source = options.source
        builder.comment = options.comment
        builder.createdBy = options.createdBy
        builder.creationDate = options.creationDate
        return builder.encode()
    }
}
