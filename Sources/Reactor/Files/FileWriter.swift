#if canImport(Glibc)
    import Glibc
#endif

/// Writes downloaded data into a torrent's files from worker threads (DESIGN §2: the loop never
/// waits for a disk). Each file is created on its first write with its parent directories and
/// sized to its full length at once: sparse by default (holes cost no space), or allocated with
/// `fallocate` when `preallocate` is set. Descriptors stay open until `closeAll`.
///
/// Thread-safe: the descriptor table is guarded by a lock; `pwrite` needs no lock.
public final class FileWriter: @unchecked Sendable {
    private let lock = ConditionLock()
    private var descriptors: [String: Int32] = [:]
    private let preallocate: Bool

    /// A writer; `preallocate` reserves every file's blocks when it is created.
    public init(preallocate: Bool = false) { self.preallocate = preallocate }

    deinit { closeAll() }

    /// Writes `bytes` at `offset` of `path`, a file of `fileLength` bytes in the end.
    public func write(_ bytes: UnsafeRawBufferPointer, to path: String, at offset: Int64, fileLength: Int64) throws(SystemError) {
        let fd = try descriptor(for: path, length: fileLength)
        var done = 0
        while done < bytes.count {
            let count = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno: errno, operation: "write", path: path)
            }
            done += count
        }
    }

    /// Creates `path` (and its directories) if it does not exist, as an empty file.
    public func create(_ path: String) throws(SystemError) {
        _ = try descriptor(for: path, length: 0)
    }

    /// Flushes every open file to the disk (before resume data claims their pieces).
    public func syncAll() throws(SystemError) {
        let open = lock.withLock { descriptors }
        for (path, fd) in open where fdatasync(fd) != 0 {
            throw SystemError(errno: errno, operation: "fsync", path: path)
        }
    }

    /// Closes every file.
    public func closeAll() {
        let open = lock.withLock {
            defer { descriptors = [:] }
            return descriptors
        }
        for fd in open.values { close(fd) }
    }

    private func descriptor(for path: String, length: Int64) throws(SystemError) -> Int32 {
        if let fd = lock.withLock({ descriptors[path] }) { return fd }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try FileContents.makeDirectories(String(path[..<slash]))
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "create", path: path) }
        var info = stat()
        if fstat(fd, &info) == 0 && Int64(info.st_size) < length {
            if preallocate {
                let result = posix_fallocate(fd, 0, off_t(length))
                if result != 0 {
                    close(fd)
                    throw SystemError(errno: result, operation: "preallocate", path: path)
                }
            } else if ftruncate(fd, off_t(length)) != 0 {
                let error = errno
                close(fd)
                throw SystemError(errno: error, operation: "truncate", path: path)
            }
        }
        return lock.withLock {
            if let existing = descriptors[path] {
                close(fd)
                return existing
            }
            descriptors[path] = fd
            return fd
        }
    }
}
