import Reactor

/// The disk layer every torrent of a session shares: the worker pools (hashing, blocking disk
/// work), the open-file cache behind the block reader, and the offloader that hands results back
/// on the loop.
final class DiskIO {
    /// Hands pool results back on the loop.
    let offloader: any Offloader
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

    /// Stops the pools (after the last job the session cares about).
    func shutdown() {
        diskPool.shutdown()
        hashPool.shutdown()
    }
}

@available(*, unavailable)
extension DiskIO: Sendable {}
