import Reactor
import TorrentCore

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

/// Hashes pieces of content on disk on a worker pool, reporting progress.
///
/// Pieces are read with `pread` and hashed from the buffer: measured on a 1 GiB file in the page
/// cache, this beat mapping each piece (+25% time) or the whole file (+5%, or +20% populated).
public struct PieceHasher {
    private let pool: WorkerPool

    /// A hasher running on `pool` (normally one thread per core).
    public init(pool: WorkerPool) { self.pool = pool }

    /// Hashes `pieces` (all by default) and returns one outcome per requested piece, in order.
    ///
    /// One job per pool thread pulls the next piece number from a shared counter and reads it into
    /// a buffer that job reuses, so no memory is allocated or faulted in per piece.
    ///
    /// - Parameter progress: called on the calling thread about ten times a second and once at the
    ///   end, with the pieces and bytes done so far.
    public func hash(
        _ location: ContentLocation, pieces: [PieceIndex]? = nil,
        progress: (_ piecesDone: Int, _ bytesDone: Int64) -> Void = { _, _ in }
    ) -> [PieceOutcome] {
        let wanted = pieces ?? (0..<location.layout.pieceCount).map(PieceIndex.init)
        let results = ResultTable(count: wanted.count)
        let lanes = min(pool.threadCount, max(wanted.count, 1))
        for _ in 0..<lanes {
            pool.submit {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: location.layout.pieceLength, alignment: 64)
                defer { buffer.deallocate() }
                var open = LaneFile()
                while let slot = results.claimNext() {
                    let piece = wanted[slot]
                    let outcome = Self.hashPiece(piece, of: location, buffer: buffer, open: &open)
                    results.store(outcome, at: slot, bytes: Int64(location.layout.length(of: piece)))
                }
            }
        }
        return results.waitForAll(progress: progress)
    }

    /// The file a lane read last, kept open for its next piece: a piece mostly lies in the file
    /// the one before it ended in (4,096 pieces of one file had each opened and closed it).
    struct LaneFile {
        var index = -1
        var file: ReadOnlyFile?

        mutating func file(_ index: Int, path: String) throws(SystemError) -> ReadOnlyFile {
            if index == self.index, let file { return file }
            file = nil
            self.index = -1
            let opened = try ReadOnlyFile(path: path)
            (self.index, file) = (index, opened)
            return opened
        }
    }

    /// Reads and hashes one piece into `buffer` (at least a piece long); runs on a worker thread.
    static func hashPiece(
        _ piece: PieceIndex, of location: ContentLocation, buffer: UnsafeMutableRawBufferPointer
    ) -> PieceOutcome {
        var open = LaneFile()
        return hashPiece(piece, of: location, buffer: buffer, open: &open)
    }

    /// The same, reusing the lane's open file.
    static func hashPiece(
        _ piece: PieceIndex, of location: ContentLocation, buffer: UnsafeMutableRawBufferPointer, open: inout LaneFile
    ) -> PieceOutcome {
        let length = location.layout.length(of: piece)
        var filled = 0
        for span in location.layout.spans(of: piece) {
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + span.length])
            if location.isPadding[span.file.value] {
                target.initializeMemory(as: UInt8.self, repeating: 0)
            } else {
                do {
                    let file = try open.file(span.file.value, path: location.paths[span.file.value])
                    let count = try file.read(into: target, at: span.offset)
                    if count < span.length { return .shortFile(span.file) }
                } catch {
                    if error.isNotFound { return .missingFile(span.file) }
                    return .readFailed(error)
                }
            }
            filled += span.length
        }
        return .digest(Digest.hash(.sha1, UnsafeRawBufferPointer(rebasing: buffer[..<length])))
    }
}

/// Outcomes filled in by worker threads while the caller waits.
private final class ResultTable: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = ConditionLock()
    private var outcomes: [PieceOutcome?]
    private var done = 0
    private var claimed = 0
    private var bytesDone: Int64 = 0

    init(count: Int) { outcomes = [PieceOutcome?](repeating: nil, count: count) }

    /// The next slot no job has taken yet, or nil when all are taken.
    func claimNext() -> Int? {
        lock.withLock {
            guard claimed < outcomes.count else { return nil }
            defer { claimed += 1 }
            return claimed
        }
    }

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
