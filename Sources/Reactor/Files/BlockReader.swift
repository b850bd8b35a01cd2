#if canImport(Glibc)
    import Glibc
#endif

/// Gets file blocks ready to send without ever making the loop wait for a disk (DESIGN §2):
/// a block already in the page cache is handed over at once; one that is not is read in on the
/// disk pool first, and handed over on the loop when that finishes.
public final class BlockReader {
    private unowned let loop: any Offloader
    private let files: OpenFileCache
    private let diskPool: WorkerPool
    /// Blocks that had to wait for the disk.
    public private(set) var diskReads = 0

    /// A reader opening files through `files` and reading cold ranges on `diskPool`.
    public init(loop: any Offloader, files: OpenFileCache, diskPool: WorkerPool) {
        self.loop = loop
        self.files = files
        self.diskPool = diskPool
    }

    /// Whether a block is ready to queue without waiting for the disk.
    public enum Readiness {
        /// In the page cache: queue it now.
        case ready(FileBlock)
        /// Not in the page cache: `warm` it first.
        case cold(FileBlock)
        /// The file cannot be opened, or the range lies past its end.
        case failed(SystemError)
    }

    /// The block at `offset` in the file at `path`, and whether it can be queued at once. Never
    /// waits for the disk.
    public func prepare(path: String, offset: Int64, length: Int) -> Readiness {
        let file: OpenFile
        do { file = try files.file(at: path) } catch { return .failed(error) }
        let block = FileBlock(file: file, offset: offset, length: length)
        guard block.isWithinFile else {
            return .failed(SystemError(errno: ERANGE, operation: "read past end of file", path: path))
        }
        return file.isResident(offset: offset, length: length) ? .ready(block) : .cold(block)
    }

    /// Reads a cold block into the page cache on the disk pool; `completion` runs on the loop after,
    /// false if the file no longer holds the block. The file is then closed, so the next `prepare`
    /// sees its size as it is now and refuses the range (a file truncated under a seeder once made
    /// serving warm the same missing block for ever, a busy loop).
    public func warm(_ block: FileBlock, completion: @escaping (Bool) -> Void) {
        diskReads += 1
        loop.offload(to: diskPool, { block.file.prefetch(offset: block.offset, length: block.length) }) { [weak self] whole in
            if !whole { self?.files.evict(block.file.path) }
            completion(whole)
        }
    }

    /// Calls `completion` with the block, or the error opening the file or a range past its end.
    /// Runs it synchronously if the range is in the page cache, else later on the loop.
    public func block(
        path: String, offset: Int64, length: Int, completion: @escaping (Result<FileBlock, SystemError>) -> Void
    ) {
        switch prepare(path: path, offset: offset, length: length) {
        case .ready(let block): completion(.success(block))
        case .cold(let block):
            warm(block) { whole in
                completion(whole ? .success(block) : .failure(SystemError(errno: ERANGE, operation: "read past end of file", path: block.file.path)))
            }
        case .failed(let error): completion(.failure(error))
        }
    }
}

@available(*, unavailable)
extension BlockReader: Sendable {}
