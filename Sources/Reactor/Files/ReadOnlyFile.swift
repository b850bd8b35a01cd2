#if canImport(Glibc)
    import Glibc
#endif

/// An open file for positional reads; owns its descriptor and closes it in `deinit`.
///
/// `pread` needs no shared file position, so one instance may serve several threads at once.
public final class ReadOnlyFile: @unchecked Sendable {
    let descriptor: Int32
    /// The path it was opened with, for error messages.
    public let path: String

    /// Opens `path` for reading.
    public init(path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "open", path: path) }
        descriptor = fd
        self.path = path
    }

    deinit { close(descriptor) }

    /// Reads up to `buffer.count` bytes at `offset`, retrying short reads; returns fewer only at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SystemError) -> Int {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno: errno, operation: "read", path: path)
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// The file's size now (`fstat`).
    public func currentSize() throws(SystemError) -> Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw SystemError(errno: errno, operation: "stat", path: path) }
        return Int64(info.st_size)
    }

    /// Tells the kernel the file will be read from start to end (`posix_fadvise` SEQUENTIAL).
    public func adviseSequential() { _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL) }
}

/// What `stat` says of a path.
public struct FileStatus: Equatable, Sendable {
    /// The kinds of file `FileStatus` tells apart.
    public enum Kind: Sendable { case regular, directory, other }
    /// The kind of file.
    public let kind: Kind
    /// The size in bytes.
    public let size: Int64
    /// Modification time, whole seconds since 1970.
    public let modificationTime: Int64
    /// Device and inode, to notice a directory seen twice through links.
    public let identity: FileIdentity
    /// Modification and status-change times in nanoseconds since 1970: for a directory, they
    /// move whenever an entry is added, removed or renamed in it.
    public let modificationNanoseconds: Int64
    public let statusChangeNanoseconds: Int64

    /// Follows symbolic links; nil if the path does not exist.
    public static func of(_ path: String) throws(SystemError) -> FileStatus? {
        var info = stat()
        if stat(path, &info) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError(errno: errno, operation: "stat", path: path)
        }
        let type = info.st_mode & S_IFMT
        let kind: Kind = type == S_IFREG ? .regular : type == S_IFDIR ? .directory : .other
        return FileStatus(
            kind: kind, size: Int64(info.st_size), modificationTime: Int64(info.st_mtim.tv_sec),
            identity: FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)),
            modificationNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            statusChangeNanoseconds: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec))
    }
}

/// A file's device and inode numbers.
public struct FileIdentity: Hashable, Sendable {
    /// `st_dev`.
    public let device: UInt64
    /// `st_ino`.
    public let inode: UInt64
}
