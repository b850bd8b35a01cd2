import Client
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Serves Transmission's web client from a directory, as transmission-daemon does: `--web-root`,
/// else `TRANSMISSION_WEB_HOME`, else Debian's `/usr/share/transmission/web` (transmission-common).
/// Nothing outside the root is ever served: `..`, encoded separators and NULs are refused before
/// the disk is touched, and the resolved path (symlinks followed) must still lie inside the root.
struct WebRoot {
    /// The root, resolved (nil if it does not exist).
    let directory: String?

    init(_ path: String) { directory = RealPath.resolve(path) }

    /// The file for a request path below `/transmission/web/` ("" is the index), or why not.
    func file(for relative: String) -> Result<String, WebError> {
        guard let directory else { return .failure(.noWebRoot) }
        guard let decoded = Self.percentDecoded(relative) else { return .failure(.forbidden) }
        let parts = decoded.split(separator: "/", omittingEmptySubsequences: true)
        guard !decoded.utf8.contains(UInt8(ascii: "\\")), !decoded.utf8.contains(0), parts.allSatisfy({ $0 != ".." && $0 != "." }) else {
            return .failure(.forbidden)
        }
        let joined = ([directory] + parts.map(String.init) + (parts.isEmpty ? ["index.html"] : [])).joined(separator: "/")
        guard let resolved = RealPath.resolve(joined) else { return .failure(.notFound) }
        guard resolved.hasPrefix(directory + "/") else { return .failure(.forbidden) }
        return .success(resolved)
    }

    /// Percent-decoding (`+` stays `+` in a path) that refuses an encoded `/`, `\` or NUL: a way
    /// to smuggle separators past the check on the path's parts.
    static func percentDecoded(_ text: String) -> String? {
        let encoded = Array(text.utf8), refused: Set<String> = ["2f", "5c", "00"]
        for index in encoded.indices where encoded[index] == UInt8(ascii: "%") && index + 2 < encoded.count {
            if refused.contains(String(decoding: encoded[index + 1...index + 2], as: UTF8.self).lowercased()) { return nil }
        }
        guard let bytes = PercentEncoding.decode(text, plusIsSpace: false) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The Content-Type for a file name.
    static func contentType(_ path: String) -> String {
        let types = [
            "html": "text/html; charset=UTF-8", "js": "application/javascript", "css": "text/css", "png": "image/png",
            "gif": "image/gif", "jpg": "image/jpeg", "svg": "image/svg+xml", "ico": "image/x-icon", "json": "application/json",
            "woff": "font/woff", "woff2": "font/woff2", "txt": "text/plain; charset=UTF-8",
        ]
        let suffix = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        return types[suffix] ?? "application/octet-stream"
    }

    enum WebError: Error, Equatable {
        case noWebRoot, forbidden, notFound
    }
}
