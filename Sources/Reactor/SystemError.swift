#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: which operation, on which path (if any), and the errno it left.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The `errno` value.
    public let errno: Int32
    /// What was being done, such as `open` or `pread`.
    public let operation: String
    /// The file the operation was on, if any.
    public let path: String?

    /// An error from `errno` for `operation` on `path`.
    public init(errno: Int32, operation: String, path: String? = nil) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    /// Whether the path (or a directory on the way to it) does not exist.
    public var isNotFound: Bool { errno == ENOENT || errno == ENOTDIR }

    /// The C library's text for the errno.
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        if let path { return "\(operation) \(path): \(reason)" }
        return "\(operation): \(reason)"
    }
}
