import Reactor
import TorrentCore

/// Where a torrent's files are on disk: one absolute path per file, in torrent order.
public struct ContentLocation: Sendable {
    /// Byte-stream arithmetic over the files.
    public let layout: FileLayout
    /// Each file's path on disk.
    public let paths: [String]
    /// Files whose bytes are zeros by definition (BEP 47 padding) and are never read.
    public let isPadding: [Bool]

    /// Files at `paths` laid out by `layout`.
    public init(layout: FileLayout, paths: [String], isPadding: [Bool]? = nil) {
        precondition(paths.count == layout.fileCount)
        self.layout = layout
        self.paths = paths
        self.isPadding = isPadding ?? [Bool](repeating: false, count: paths.count)
    }

    /// Where `metainfo`'s content lives when downloaded into `directory` (the content is `directory/name`).
    public init(metainfo: Metainfo, directory: String) {
        let info = metainfo.info
        let paths = info.files.indices.map { index in
            ([directory] + info.relativePath(of: FileIndex(index))).joined(separator: "/")
        }
        self.init(layout: info.layout, paths: paths, isPadding: info.files.map(\.isPadding))
    }
}

/// What hashing one piece found.
public enum PieceOutcome: Equatable, Sendable {
    /// The piece was read whole; its SHA-1.
    case digest([UInt8])
    /// A file the piece needs does not exist.
    case missingFile(FileIndex)
    /// A file ended before the piece's bytes in it did.
    case shortFile(FileIndex)
    /// Reading failed for another reason.
    case readFailed(SystemError)
}

/// Hashes pieces of content on disk using a worker pool, one piece per job, reporting progress.
///
/// Each job reads its piece with `pread` into its own buffer and hashes it there, so every core
/// hashes while the others read; nothing is shared between jobs but the result table.
public struct PieceHasher {
    private let pool: WorkerPool

    /// A hasher running on `pool` (normally one thread per core).
    public init(pool: WorkerPool) { self.pool = pool }

    /// Hashes `pieces` (all by default) and returns one outcome per requested piece, in order.
    ///
    /// - Parameter progress: called on the calling thread about ten times a second and once at the
    ///   end, with the pieces and bytes done so far.
    public func hash(
        _ location: ContentLocation, pieces: [PieceIndex]? = nil,
        progress: (_ piecesDone: Int, _ bytesDone: Int64) -> Void = { _, _ in }
    ) -> [PieceOutcome] {
        let wanted = pieces ?? (0..<location.layout.pieceCount).map(PieceIndex.init)
        let results = ResultTable(count: wanted.count)
        for (slot, piece) in wanted.enumerated() {
            pool.submit {
                let outcome = Self.hashPiece(piece, of: location)
                results.store(outcome, at: slot, bytes: Int64(location.layout.length(of: piece)))
            }
        }
        return results.waitForAll(progress: progress)
    }

    /// Reads and hashes one piece; runs on a worker thread.
    static func hashPiece(_ piece: PieceIndex, of location: ContentLocation) -> PieceOutcome {
        let length = location.layout.length(of: piece)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 64)
        defer { buffer.deallocate() }
        var filled = 0
        for span in location.layout.spans(of: piece) {
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + span.length])
            if location.isPadding[span.file.value] {
                target.initializeMemory(as: UInt8.self, repeating: 0)
            } else {
                do {
                    let file = try ReadOnlyFile(path: location.paths[span.file.value])
                    let count = try file.read(into: target, at: span.offset)
                    if count < span.length { return .shortFile(span.file) }
                } catch {
                    if error.isNotFound { return .missingFile(span.file) }
                    return .readFailed(error)
                }
            }
            filled += span.length
        }
        return .digest(Digest.hash(.sha1, UnsafeRawBufferPointer(buffer)))
    }
}

/// Outcomes filled in by worker threads while the caller waits.
private final class ResultTable: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = ConditionLock()
    private var outcomes: [PieceOutcome?]
    private var done = 0
    private var bytesDone: Int64 = 0

    init(count: Int) { outcomes = [PieceOutcome?](repeating: nil, count: count) }

    func store(_ outcome: PieceOutcome, at slot: Int, bytes: Int64) {
        lock.withLock {
            outcomes[slot] = outcome
            done += 1
            bytesDone += bytes
            if done == outcomes.count { lock.signal() }
        }
    }

    func waitForAll(progress: (Int, Int64) -> Void) -> [PieceOutcome] {
        while true {
            let (finished, count, bytes) = lock.withLock {
                if done < outcomes.count { lock.wait(nanoseconds: 100_000_000) }
                return (done == outcomes.count, done, bytesDone)
            }
            progress(count, bytes)
            if finished { return lock.withLock { outcomes.map { $0! } } }
        }
    }
}
