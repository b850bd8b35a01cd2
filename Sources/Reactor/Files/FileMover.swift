#if canImport(Glibc)
    import Glibc
#endif

/// Moving one file so that a crash at any moment leaves it whole in one place or the other:
/// `rename` on one filesystem; across filesystems a copy into a temporary file beside the target,
/// fsynced, given the source's mtime and renamed into place (the source stays until the caller
/// removes it). Blocking: call it on a worker.
public enum FileMover {
    /// How a file got to its target.
    public enum Moved: Sendable {
        /// Renamed: the source is gone.
        case renamed
        /// Copied: the source is still there.
        case copied
    }

    /// The suffix of a copy not yet in place.
    public static let partialSuffix = ".evtorrent-move"

    /// Moves `source` to `target` (creating its folders); `target` must not exist.
    public static func move(_ source: String, to target: String) throws(SystemError) -> Moved {
        if let slash = target.lastIndex(of: "/"), slash != target.startIndex {
            try FileContents.makeDirectories(String(target[..<slash]))
        }
        if Glibc.rename(source, target) == 0 {
            syncDirectory(of: target)
            return .renamed
        }
        guard errno == EXDEV else { throw SystemError(errno: errno, operation: "rename", path: source) }
        try copy(source, to: target)
        return .copied
    }

    /// Renames a file or folder within one filesystem, refusing to replace anything at `target`;
    /// a `source` that does not exist (data not downloaded yet) is fine.
    public static func renameInPlace(_ source: String, to target: String) throws(SystemError) {
        guard ((try? FileStatus.of(source)) ?? nil) != nil else { return }
        guard ((try? FileStatus.of(target)) ?? nil) == nil else { throw SystemError(errno: EEXIST, operation: "rename onto", path: target) }
        if Glibc.rename(source, target) != 0 { throw SystemError(errno: errno, operation: "rename", path: source) }
        syncDirectory(of: target)
    }

    /// Puts a file moved by `move` back at `source` (when a later file of the same move failed).
    public static func undo(_ moved: Moved, source: String, target: String) throws(SystemError) {
        switch moved {
        case .renamed:
            if Glibc.rename(target, source) != 0 { throw SystemError(errno: errno, operation: "rename", path: target) }
        case .copied:
            try FileContents.remove(target)
        }
    }

    private static func copy(_ source: String, to target: String) throws(SystemError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SystemError(errno: errno, operation: "open", path: source) }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw SystemError(errno: errno, operation: "stat", path: source) }
        let partial = target + partialSuffix
        let output = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, info.st_mode & 0o777)
        guard output >= 0 else { throw SystemError(errno: errno, operation: "create", path: partial) }
        var failure: SystemError?
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        copying: while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = SystemError(errno: errno, operation: "read", path: source)
                break
            }
            if count == 0 { break }
            var done = 0
            while done < count {
                let written = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, count - done) }
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = SystemError(errno: errno, operation: "write", path: partial)
                    break copying
                }
                done += written
            }
        }
        if failure == nil {
            // The copy keeps the source's mtime, so resume data written for the source still holds.
            var times = [timespec(tv_sec: info.st_atim.tv_sec, tv_nsec: info.st_atim.tv_nsec), info.st_mtim]
            if futimens(output, &times) != 0 { failure = SystemError(errno: errno, operation: "set the time of", path: partial) }
        }
        if failure == nil, fsync(output) != 0 { failure = SystemError(errno: errno, operation: "fsync", path: partial) }
        close(output)
        if failure == nil, Glibc.rename(partial, target) != 0 { failure = SystemError(errno: errno, operation: "rename", path: partial) }
        if let failure {
            unlink(partial)
            throw failure
        }
        syncDirectory(of: target)
    }

    private static func syncDirectory(of path: String) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
