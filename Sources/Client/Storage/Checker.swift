import Reactor
import TorrentCore

/// Hash-checks one torrent's data on the hash pool without blocking the loop: pieces go out in
/// batches, a few batches in flight at a time, and each batch's outcome comes back as a loop
/// callback. The owner hears progress after each batch and the verified pieces at the end; a
/// cancelled check hears nothing more.
final class Checker {
    /// Pieces per pool job: large enough that hand-backs cost nothing, small enough for progress
    /// (and cancelling) to follow within a fraction of a second.
    static let batchBytes = 16 << 20

    private let metainfo: Metainfo
    private let location: ContentLocation
    private let disk: DiskIO
    private var next = 0
    private var inFlight = 0
    private var cancelled = false
    private(set) var have: Bitfield
    /// Pieces checked so far.
    private(set) var piecesDone = 0
    private let progress: (Int) -> Void
    private let completion: (Bitfield) -> Void
    /// Lanes not hashing a batch now, kept so each keeps its buffer and what it has timed of
    /// mapping against reading (`ReadMethodChoice`): one per batch in flight at most.
    private var idleRuns: [PieceRun] = []

    init(
        metainfo: Metainfo, location: ContentLocation, disk: DiskIO, progress: @escaping (Int) -> Void,
        completion: @escaping (Bitfield) -> Void
    ) {
        self.metainfo = metainfo
        self.location = location
        self.disk = disk
        self.progress = progress
        self.completion = completion
        have = Bitfield(count: metainfo.info.pieceCount)
    }

    /// Starts hashing.
    func start() {
        guard metainfo.info.pieceCount > 0 else { return completion(have) }
        for _ in 0..<max(1, disk.hashPool.threadCount) { submitNext() }
    }

    /// Stops: batches in flight finish on the pool, and nothing more is reported.
    func cancel() { cancelled = true }

    private func submitNext() {
        let count = metainfo.info.pieceCount
        guard !cancelled, next < count else { return }
        let perBatch = max(1, Self.batchBytes / max(metainfo.info.pieceLength, 1))
        let batch = next..<min(next + perBatch, count)
        next = batch.upperBound
        inFlight += 1
        let expected = batch.map { metainfo.info.hash(of: PieceIndex($0)) }.map(Array.init)
        // One job at a time uses a run: the pool's queue hands it over, the loop takes it back.
        nonisolated(unsafe) let run = idleRuns.popLast() ?? PieceRun(location: location)
        disk.offloader.offload(to: disk.hashPool, { () -> [Bool] in
            var results = [Bool](repeating: false, count: batch.count)
            run.hash(ArraySlice(batch.map(PieceIndex.init))) { index, outcome in
                if case .digest(let digest) = outcome { results[index] = digest == expected[index] }
            }
            return results
        }) { [weak self] results in
            guard let self, !self.cancelled else { return }
            self.idleRuns.append(run)
            self.inFlight -= 1
            for (piece, ok) in zip(batch, results) where ok { self.have[PieceIndex(piece)] = true }
            self.piecesDone += batch.count
            self.progress(self.piecesDone)
            if self.piecesDone == count {
                self.completion(self.have)
            } else {
                self.submitNext()
            }
        }
    }
}

@available(*, unavailable)
extension Checker: Sendable {}
