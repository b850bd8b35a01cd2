/// Gets file blocks ready to send without ever making the loop wait for a disk (DESIGN §2):
/// a block already in the page cache is handed over at once; one that is not is read in on the
/// disk pool first, and handed over on the loop when that finishes.
public final class BlockReader {
    private unowned let loop: EventLoop
    private let files: OpenFileCache
    private let diskPool: WorkerPool
    /// Blocks that had to wait for the disk.
    public private(set) var diskReads = 0

    /// A reader opening files through `files` and reading cold ranges on `diskPool`.
    public init(loop: EventLoop, files: OpenFileCache, diskPool: WorkerPool) {
        self.loop = loop
        self.files = files
        self.diskPool = diskPool
    }

    /// Calls `completion` with the block, or the error opening the file or a range past its end.
    /// Runs it synchronously if the range is in the page cache, else later on the loop.
    public func block(
        path: String, offset: Int64, length: Int, completion: @escaping (Result<FileBlock, SystemError>) -> Void
    ) {
        let file: OpenFile
        do { file = try files.file(at: path) } catch {
            completion(.failure(error))
            return
        }
        let block = FileBlock(file: file, offset: offset, length: length)
        guard block.isWithinFile else {
            completion(.failure(SystemError(errno: 34 /* ERANGE */, operation: "read past end of file", path: path)))
            return
        }
        if file.isResident(offset: offset, length: length) {
            completion(.success(block))
            return
        }
        diskReads += 1
        loop.offload(to: diskPool, { file.prefetch(offset: offset, length: length) }) { _ in
            completion(.success(block))
        }
    }
}

@available(*, unavailable)
extension BlockReader: Sendable {}
