import Reactor

/// The disk layer every torrent of a session shares: the worker pools (hashing, blocking disk
/// work), the open-file cache behind the block reader, and the offloader that hands results back
/// on the loop.
final class DiskIO {
    /// Hands pool results back on the loop.
    let offloader: any Offloader
    /// The loop's clock, to time each operation from its request to its result.
    var clock: () -> ContinuousClock.Instant = { ContinuousClock.now }
    /// Operations and bytes so far.
    private(set) var stats = DiskStats()
    /// Told of each operation's time from request to result (queueing included: what a peer
    /// waiting on it sees).
    var latencyObserved: ((DiskOperation, Duration) -> Void)?
    /// Reads blocks to serve (page cache first, cold ranges on the disk pool).
    let blocks: BlockReader
    /// Blocking disk work: cold reads, writes, fsync, resume files.
    let diskPool: WorkerPool
    /// Hashes downloaded pieces (one thread per core).
    let hashPool: WorkerPool

    init(offloader: any Offloader, openFiles: Int, payloadMode: PayloadMode, diskThreads: Int = 2, hashThreads: Int = WorkerPool.coreCount) {
        self.offloader = offloader
        diskPool = WorkerPool(threads: diskThreads)
        hashPool = WorkerPool(threads: hashThreads)
        blocks = BlockReader(loop: offloader, files: OpenFileCache(capacity: openFiles, mode: payloadMode), diskPool: diskPool)
    }

    /// Starts timing an operation.
    func began() -> ContinuousClock.Instant { clock() }

    /// An operation of `bytes` requested at `start` ended.
    func ended(_ operation: DiskOperation, bytes: Int, since start: ContinuousClock.Instant) {
        switch operation {
        case .read:
            stats.reads += 1
            stats.readBytes += Int64(bytes)
        case .write:
            stats.writes += 1
            stats.writtenBytes += Int64(bytes)
        }
        latencyObserved?(operation, clock() - start)
    }

    /// Stops the pools (after the last job the session cares about).
    func shutdown() {
        diskPool.shutdown()
        hashPool.shutdown()
    }
}

@available(*, unavailable)
extension DiskIO: Sendable {}

/// The kinds of disk work timed.
public enum DiskOperation: String, Sendable {
    /// A block not in the page cache read for a peer.
    case read
    /// A verified piece written.
    case write
}

/// Disk work done so far.
public struct DiskStats: Sendable, Equatable {
    public internal(set) var reads = 0
    public internal(set) var readBytes: Int64 = 0
    public internal(set) var writes = 0
    public internal(set) var writtenBytes: Int64 = 0
}
