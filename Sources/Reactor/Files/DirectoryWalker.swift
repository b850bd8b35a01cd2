#if canImport(Glibc)
    import Glibc
#endif

/// A regular file found under a directory.
public struct FoundFile: Equatable, Sendable {
    /// Path components below the root.
    public let components: [String]
    /// The size in bytes.
    public let size: Int64
}

/// Lists every regular file below a directory, following symbolic links, in no particular order.
///
/// A directory reached twice (a link loop) is read once; sockets, pipes and devices are skipped.
public enum DirectoryWalker {
    /// All regular files under `root`.
    public static func files(under root: String) throws(SystemError) -> [FoundFile] {
        var found: [FoundFile] = []
        var visited: Set<FileIdentity> = []
        try walk(root, components: [], into: &found, visited: &visited)
        return found
    }

    private static func walk(
        _ directory: String, components: [String], into found: inout [FoundFile], visited: inout Set<FileIdentity>
    ) throws(SystemError) {
        guard let status = try FileStatus.of(directory) else {
            throw SystemError(errno: ENOENT, operation: "stat", path: directory)
        }
        guard visited.insert(status.identity).inserted else { return }
        for name in try entries(of: directory) {
            let path = directory + "/" + name
            guard let child = try FileStatus.of(path) else { continue }  // dangling link
            switch child.kind {
            case .regular: found.append(FoundFile(components: components + [name], size: child.size))
            case .directory: try walk(path, components: components + [name], into: &found, visited: &visited)
            case .other: continue
            }
        }
    }

    /// The names in `directory`, without `.` and `..`.
    public static func entries(of directory: String) throws(SystemError) -> [String] {
        guard let handle = opendir(directory) else {
            throw SystemError(errno: errno, operation: "opendir", path: directory)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
