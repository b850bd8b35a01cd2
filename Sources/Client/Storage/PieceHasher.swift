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
/// Runs of consecutive pieces are hashed in place from a mapping of the part of each file they
/// cover (`PieceRun`), so the bytes are not copied out of the page cache first: a `pread` copy
/// was 13 % of a warm recheck (Benchmarks/RESULTS.md, "Recheck against its floor").
public struct PieceHasher {
    private let pool: WorkerPool

    /// A hasher running on `pool` (normally one thread per core).
    public init(pool: WorkerPool) { self.pool = pool }

    /// Hashes `pieces` (all by default) and returns one outcome per requested piece, in order.
    ///
    /// One job per pool thread takes the next run of pieces from a shared counter and hashes it
    /// with a buffer and digest that job reuses, so nothing is allocated per piece.
    ///
    /// - Parameter progress: called on the calling thread about ten times a second and once at the
    ///   end, with the pieces and bytes done so far.
    public func hash(
        _ location: ContentLocation, pieces: [PieceIndex]? = nil,
        progress: (_ piecesDone: Int, _ bytesDone: Int64) -> Void = { _, _ in }
    ) -> [PieceOutcome] {
        let wanted = pieces ?? (0..<location.layout.pieceCount).map(PieceIndex.init)
        let lanes = min(pool.threadCount, max(wanted.count, 1))
        // Runs of up to 16 MiB, but at least about eight per lane so the lanes finish together.
        let runLength = max(1, min(PieceRun.bytes / max(location.layout.pieceLength, 1), wanted.count / (lanes * 8)))
        let results = ResultTable(count: wanted.count, runLength: runLength)
        for _ in 0..<lanes {
            pool.submit {
                let run = PieceRun(location: location)
                while let slots = results.claimNext() {
                    run.hash(wanted[slots]) { index, outcome in
                        let piece = wanted[slots.lowerBound + index]
                        results.store(outcome, at: slots.lowerBound + index, bytes: Int64(location.layout.length(of: piece)))
                    }
                }
            }
        }
        return results.waitForAll(progress: progress)
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
    private let runLength: Int

    init(count: Int, runLength: Int) {
        outcomes = [PieceOutcome?](repeating: nil, count: count)
        self.runLength = runLength
    }

    /// The next run of slots no job has taken yet, or nil when all are taken.
    func claimNext() -> Range<Int>? {
        lock.withLock {
            guard claimed < outcomes.count else { return nil }
            let run = claimed..<min(claimed + runLength, outcomes.count)
            claimed = run.upperBound
            return run
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

/// Hashes runs of pieces in place: the part of each file a run covers is mapped once
/// (`MappedRegion`) and the digest fed straight from the mapping, span by span. Padding is fed
/// as zeros; a file part under 256 KiB in the run (small files of a multi-file torrent, where a
/// mapping costs more than a copy), one not all in the page cache, and anything that cannot be
/// mapped are read with `pread`. Resident parts too, in runs where reading has lately cost the
/// lane less than mapping (`ReadMethodChoice`: it depends on the page cache's folio size). If a
/// mapped page vanished while a piece was hashed (the file shrank: `MappedRegion.faults` moved),
/// that piece is read again with `pread`, which says what happened. One per lane.
struct PieceRun {
    /// The most bytes a run should cover: mappings are made and dropped once per run.
    static let bytes = 16 << 20
    /// A file's part of a run smaller than this is read, not mapped.
    static let smallestMapping = 256 << 10

    let location: ContentLocation
    private let buffer: UnsafeMutableRawBufferPointer
    private let digest = Digest(.sha1)
    private let open = LaneFile()
    private let owner: BufferOwner
    private let choice = LaneChoice()

    init(location: ContentLocation) {
        self.location = location
        // Room for two pieces: a pair is read side by side and hashed together.
        owner = BufferOwner(count: 2 * max(location.layout.pieceLength, 1))
        buffer = owner.buffer
    }

    /// The file a lane read last, kept open for its next piece: a piece mostly lies in the file
    /// the one before it ended in (4,096 pieces of one file had each opened and closed it).
    private final class LaneFile {
        var index = -1
        var file: ReadOnlyFile?

        func file(_ index: Int, path: @autoclosure () -> String) throws(SystemError) -> ReadOnlyFile {
            if index == self.index, let file { return file }
            file = nil
            self.index = -1
            let opened = try ReadOnlyFile(path: path())
            (self.index, file) = (index, opened)
            return opened
        }
    }

    /// The lane's choice between mapping and reading what is in the page cache, kept across runs.
    private final class LaneChoice {
        var value = ReadMethodChoice()
    }

    /// What the lane has learnt of the two methods' costs (for tests).
    var readMethodChoice: ReadMethodChoice { choice.value }

    /// How one file's part of the current run is hashed.
    private enum Part {
        case mapped(MappedRegion, from: Int64)
        case read
        case failed(PieceOutcome)
    }

    /// Hashes `pieces` (consecutive in the caller's list; normally consecutive pieces), calling
    /// `done` with each one's position in `pieces` and outcome, in order.
    func hash(_ pieces: ArraySlice<PieceIndex>, done: (Int, PieceOutcome) -> Void) {
        let maps = choice.value.nextMaps()
        let began = ContinuousClock.now
        // The run's mappings are gone when `hash(_:maps:done:)` returns: their teardown is timed.
        let (bytes, warm) = hash(pieces, maps: maps, done: done)
        if warm {
            let (seconds, attoseconds) = (ContinuousClock.now - began).components
            choice.value.record(mapped: maps, bytes: bytes, nanoseconds: seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
    }

    /// Hashes a run, mapping its resident parts if `maps`; returns the bytes hashed and whether
    /// the run is a fair sample of that method (some part was checked, and all were resident).
    private func hash(_ pieces: ArraySlice<PieceIndex>, maps: Bool, done: (Int, PieceOutcome) -> Void) -> (Int, Bool) {
        let layout = location.layout
        // Each file's byte range over the whole run.
        var ranges: [Int: (Int64, Int64)] = [:]
        for piece in pieces {
            for span in layout.spans(of: piece) where !location.isPadding[span.file.value] {
                let end = span.offset + Int64(span.length)
                if let (low, high) = ranges[span.file.value] {
                    ranges[span.file.value] = (min(low, span.offset), max(high, end))
                } else {
                    ranges[span.file.value] = (span.offset, end)
                }
            }
        }
        var parts: [Int: Part] = [:]
        var (bytes, checked, allResident) = (0, false, true)
        func part(_ file: Int) -> Part {
            if let known = parts[file] { return known }
            let (part, resident) = map(file, range: ranges[file]!, maps: maps)
            if let resident { (checked, allResident) = (true, allResident && resident) }
            parts[file] = part
            return part
        }
        var position = 0
        while position < pieces.count {
            let piece = pieces[pieces.startIndex + position]
            let faultsBefore = MappedRegion.faults
            // Two pieces of one length, each within one file, are hashed together (`Digest.sha1Pair`).
            if position + 1 < pieces.count, let (first, second) = hashPair(piece, pieces[pieces.startIndex + position + 1], part: part) {
                let next = pieces[pieces.startIndex + position + 1]
                bytes += layout.length(of: piece) + layout.length(of: next)
                if MappedRegion.faults != faultsBefore {
                    parts.removeAll()
                    done(position, read(piece))
                    done(position + 1, read(next))
                } else {
                    done(position, first)
                    done(position + 1, second)
                }
                position += 2
                continue
            }
            bytes += layout.length(of: piece)
            var outcome = hash(piece, part: part)
            if MappedRegion.faults != faultsBefore {
                // A patched page reads as zeros from now on without faulting again: map afresh.
                parts.removeAll()
                outcome = hash(piece) { _ in .read }
            }
            done(position, outcome)
            position += 1
        }
        return (bytes, checked && allResident)
    }

    /// Hashes two pieces together if both have the same length and each lies in one file that
    /// is mapped or read whole; nil otherwise (padding, a piece across files, a short or missing
    /// file, a read error: hashed one by one, which also says what went wrong).
    private func hashPair(_ first: PieceIndex, _ second: PieceIndex, part: (Int) -> Part) -> (PieceOutcome, PieceOutcome)? {
        let layout = location.layout
        let length = layout.length(of: first)
        guard length > 0, layout.length(of: second) == length,
            let spanOne = layout.span(within: layout.byteRange(of: first)),
            let spanTwo = layout.span(within: layout.byteRange(of: second)),
            !location.isPadding[spanOne.file.value], !location.isPadding[spanTwo.file.value]
        else { return nil }
        guard case .success(let one) = bytes(of: spanOne, from: part(spanOne.file.value), readingAt: 0),
            case .success(let two) = bytes(of: spanTwo, from: part(spanTwo.file.value), readingAt: length)
        else { return nil }
        let (digestOne, digestTwo) = Digest.sha1Pair(one, two)
        return (.digest(digestOne), .digest(digestTwo))
    }

    /// Hashes one piece, each span from its file's `part`.
    private func hash(_ piece: PieceIndex, part: (Int) -> Part) -> PieceOutcome {
        digest.reset()
        for span in location.layout.spans(of: piece) {
            let file = span.file.value
            if location.isPadding[file] {
                let zeros = UnsafeMutableRawBufferPointer(rebasing: buffer[..<span.length])
                zeros.initializeMemory(as: UInt8.self, repeating: 0)
                digest.update(UnsafeRawBufferPointer(zeros))
                continue
            }
            switch bytes(of: span, from: part(file), readingAt: 0) {
            case .success(let bytes): digest.update(bytes)
            case .failure(let failed): return failed.outcome
            }
        }
        return .digest(digest.finish())
    }

    /// Why a span's bytes could not be had.
    private struct SpanFailure: Error {
        let outcome: PieceOutcome
    }

    /// `span`'s bytes: in the mapping if `part` is mapped, else read with `pread` into the
    /// lane's buffer at `bufferOffset` (a pair's second piece reads into the buffer's second half).
    private func bytes(
        of span: FileSpan, from part: Part, readingAt bufferOffset: Int
    ) -> Result<UnsafeRawBufferPointer, SpanFailure> {
        let short = SpanFailure(outcome: .shortFile(span.file))
        switch part {
        case .failed(let outcome):
            return .failure(SpanFailure(outcome: outcome))
        case .mapped(let region, let from):
            let start = Int(span.offset - from)
            guard start >= 0, start + span.length <= region.bytes.count else { return .failure(short) }
            return .success(UnsafeRawBufferPointer(rebasing: region.bytes[start..<start + span.length]))
        case .read:
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[bufferOffset..<bufferOffset + span.length])
            do {
                let file = try open.file(span.file.value, path: location.path(of: span.file.value))
                if try file.read(into: target, at: span.offset) < span.length { return .failure(short) }
            } catch {
                return .failure(SpanFailure(outcome: error.isNotFound ? .missingFile(span.file) : .readFailed(error)))
            }
            return .success(UnsafeRawBufferPointer(target))
        }
    }

    /// Hashes one piece reading every span with `pread` (no mapping).
    func read(_ piece: PieceIndex) -> PieceOutcome { hash(piece) { _ in .read } }

    /// Maps `range` of file `file` (as much of it as the file holds) if `maps` and it is all in
    /// the page cache, or says to read it; and whether it was resident (nil if not checked).
    private func map(_ file: Int, range: (Int64, Int64), maps: Bool) -> (Part, resident: Bool?) {
        guard range.1 - range.0 >= Int64(Self.smallestMapping) else { return (.read, nil) }
        do {
            let handle = try open.file(file, path: location.path(of: file))
            let end = min(range.1, try handle.currentSize())
            guard end > range.0 else { return (.failed(.shortFile(FileIndex(file))), nil) }
            let region = try MappedRegion(handle, offset: range.0, length: Int(end - range.0))
            // Data not in the page cache is read: faulting a cold mapping in was 5–10 % slower
            // than `pread` with the kernel's readahead (1 GiB cold: 1.04–1.27 s against 1.04–1.17).
            let resident = region.isResident
            return (resident && maps ? .mapped(region, from: range.0) : .read, resident)
        } catch {
            if error.isNotFound { return (.failed(.missingFile(FileIndex(file))), nil) }
            return (.read, nil)
        }
    }
}

/// Owns a lane's piece buffer, freeing it when the lane's `PieceRun` goes.
private final class BufferOwner {
    let buffer: UnsafeMutableRawBufferPointer
    init(count: Int) { buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64) }
    deinit { buffer.deallocate() }
}
