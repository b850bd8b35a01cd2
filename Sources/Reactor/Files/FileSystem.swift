#if canImport(Glibc)
    import Glibc
#endif

/// Resolves paths the way the kernel sees them.
public enum RealPath {
    /// The absolute path with links, `.` and `..` resolved; nil if it does not exist.
    public static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Whole-file reads and crash-safe writes.
public enum FileContents {
    /// Reads the whole file, refusing one larger than `limit` bytes.
    public static func read(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let file = try ReadOnlyFile(path: path)
        // fstat, not stat: the path is walked once (a daemon starting reads three files a torrent).
        let size = try file.currentSize()
        guard size <= Int64(limit) else { throw SystemError(errno: EFBIG, operation: "read", path: path) }
        var failure: SystemError?
        // Not zeroed first: the read fills what is kept (a megabyte's memset showed at start-up).
        let bytes = [UInt8](unsafeUninitializedCapacity: Int(size)) { buffer, count in
            switch Result(catching: { () throws(SystemError) -> Int in try file.read(into: UnsafeMutableRawBufferPointer(buffer), at: 0) }) {
            case .success(let read): count = read
            case .failure(let error):
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Reads a file whose size `stat` does not tell (such as /proc files) until end of file.
    public static func readToEnd(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let file = try ReadOnlyFile(path: path)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let result = chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(SystemError) -> Int in try file.read(into: buffer, at: Int64(bytes.count)) }
            }
            let count = try result.get()
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    /// Writes `bytes` to `path` so a crash leaves the old file or the new one, never half of one:
    /// a temporary file beside it is written, fsynced and renamed over it (DESIGN §6).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(SystemError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "create", path: temporary) }
        var failure: SystemError?
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let count = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = SystemError(errno: errno, operation: "write", path: temporary)
                    return
                }
                done += count
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = SystemError(errno: errno, operation: "fsync", path: temporary) }
        close(fd)
        if failure == nil && rename(temporary, path) != 0 {
            failure = SystemError(errno: errno, operation: "rename", path: path)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        syncDirectory(of: path)
    }

    /// Creates `path` and any missing parents (mode 0755); fine if it exists.
    public static func makeDirectories(_ path: String) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw SystemError(errno: errno, operation: "mkdir", path: prefix)
            }
        }
    }

    /// How many of the file's first bytes are written data: where its first hole starts
    /// (`SEEK_HOLE`), its size if it has none; nil if it cannot be opened. A file written whole
    /// has no hole; one cut short and extended again by later writes has one where it was cut.
    public static func dataPrefix(_ path: String) -> Int64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let seekHole: Int32 = 4  // SEEK_HOLE on Linux; Swift's Glibc module leaves out the _GNU_SOURCE names
        let hole = lseek(fd, 0, seekHole)
        return hole < 0 ? nil : Int64(hole)
    }

    /// The names in `directory` (not `.` or `..`), unsorted.
    public static func list(_ directory: String) throws(SystemError) -> [String] {
        guard let handle = opendir(directory) else { throw SystemError(errno: errno, operation: "opendir", path: directory) }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes the file at `path`; fine if it is already gone.
    public static func remove(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError(errno: errno, operation: "unlink", path: path) }
    }

    /// fsyncs the directory holding `path` so the rename itself survives a crash.
    private static func syncDirectory(of path: String) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
