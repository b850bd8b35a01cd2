/// An HTTP/1.x request's head (request line and header fields) parsed from the bytes that
/// arrived, strictly and within bounds: the server's parser, pure so it is tested and fuzzed
/// without sockets.
public struct HTTPRequestHead: Equatable, Sendable {
    /// `GET`, `HEAD` or `POST` (others are refused with 405).
    public let method: String
    /// The path, still percent-encoded (an absolute-form target loses its scheme and host).
    public let path: String
    /// The raw query string after `?`, or empty.
    public let query: String
    /// Header fields in arrival order, names as sent, values trimmed.
    public let headers: [HTTPHeaderField]
    /// The body's length from `Content-Length` (0 without one).
    public let contentLength: Int
    /// Whether the connection stays open after the answer (HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 never).
    public let keepAlive: Bool
    /// Whether the client waits for `100 Continue` before sending the body.
    public let expectsContinue: Bool
    /// How many bytes the head took, its blank line included.
    public let length: Int

    /// The methods served.
    public static let methods: Set<String> = ["GET", "HEAD", "POST"]

    /// Why bytes are not a request head, as the status to answer with.
    public struct Refusal: Error, Equatable, Sendable {
        /// 400, 405, 413, 414, 431, 501 or 505.
        public let status: Int
        /// What was wrong, for the body and the log.
        public let reason: String
    }

    /// What the bytes at the front hold.
    public enum Outcome: Equatable, Sendable {
        /// A whole head.
        case head(HTTPRequestHead)
        /// Not yet a whole head (and no refusal so far).
        case incomplete
    }

    /// Parses the head at the front of `bytes`: `.incomplete` until the blank line has arrived,
    /// a refusal as soon as one is certain (a head longer than `maxHeadBytes` need not arrive
    /// whole to be refused; a body longer than `maxBodyBytes` is refused from its length).
    public static func parse(_ bytes: some RandomAccessCollection<UInt8>, maxHeadBytes: Int, maxBodyBytes: Int) throws(Refusal) -> Outcome {
        let bytes = Array(bytes.prefix(maxHeadBytes + 4))
        guard let end = headEnd(bytes) else {
            if bytes.count > maxHeadBytes { throw Refusal(status: 431, reason: "request head over \(maxHeadBytes) bytes") }
            // A request line that is not even plausible is refused before its end arrives.
            if let space = bytes.firstIndex(of: 0x20) {
                let method = String(decoding: bytes[..<space], as: UTF8.self)
                guard methods.contains(method) else { throw Refusal(status: 405, reason: "method not allowed") }
            } else if bytes.count > 8 || bytes.contains(where: { !isToken($0) }) {
                throw Refusal(status: 400, reason: "malformed request line")
            }
            return .incomplete
        }
        guard end <= maxHeadBytes else { throw Refusal(status: 431, reason: "request head over \(maxHeadBytes) bytes") }
        var lines = split(lines: bytes[..<end])
        guard !lines.isEmpty else { throw Refusal(status: 400, reason: "empty request") }
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw Refusal(status: 400, reason: "malformed request line") }
        let method = String(decoding: parts[0], as: UTF8.self)
        guard methods.contains(method) else {
            throw Refusal(status: parts[0].allSatisfy(isToken) ? 405 : 400, reason: "method not allowed")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw Refusal(status: 505, reason: "HTTP version not supported") }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw Refusal(status: 400, reason: "malformed request target") }
        var target = String(decoding: parts[1], as: UTF8.self)
        for scheme in ["http://", "https://"] where target.lowercased().hasPrefix(scheme) {
            // Absolute form: the path starts after the authority.
            let afterScheme = target.dropFirst(scheme.count)
            target = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        }
        guard target.hasPrefix("/") || (method == "GET" && target == "*") else { throw Refusal(status: 400, reason: "malformed request target") }

        var headers: [HTTPHeaderField] = []
        var contentLength: Int?
        for line in lines {
            guard let first = line.first, first != 0x20 && first != 0x09 else {
                throw Refusal(status: 400, reason: "folded or empty header line")
            }
            guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex, line[..<colon].allSatisfy(isToken) else {
                throw Refusal(status: 400, reason: "malformed header field")
            }
            let name = String(decoding: line[..<colon], as: UTF8.self)
            let valueBytes = line[(colon + 1)...]
            guard !valueBytes.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
                throw Refusal(status: 400, reason: "control character in header \(name)")
            }
            let value = String(decoding: valueBytes, as: UTF8.self).trimmingWhitespace()
            switch name.lowercased() {
            case "content-length":
                guard !value.isEmpty, value.utf8.count <= 18, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(value) else {
                    throw Refusal(status: 400, reason: "malformed Content-Length")
                }
                guard contentLength == nil || contentLength == length else { throw Refusal(status: 400, reason: "conflicting Content-Length") }
                contentLength = length
            case "transfer-encoding":
                throw Refusal(status: 501, reason: "Transfer-Encoding is not supported; send Content-Length")
            default:
                break
            }
            headers.append(HTTPHeaderField(name: name, value: value))
        }
        let length = contentLength ?? 0
        guard length <= maxBodyBytes else { throw Refusal(status: 413, reason: "body over \(maxBodyBytes) bytes") }
        let connection = headers.last { $0.name.lowercased() == "connection" }?.value.lowercased() ?? ""
        let expect = headers.last { $0.name.lowercased() == "expect" }?.value.lowercased() ?? ""
        let split = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return .head(
            HTTPRequestHead(
                method: method, path: String(split[0]), query: split.count > 1 ? String(split[1]) : "", headers: headers,
                contentLength: length, keepAlive: version == "HTTP/1.1" && !Self.lists("close", in: connection),
                expectsContinue: expect == "100-continue", length: end))
    }

    /// Whether a header's comma-separated value lists `token` (`Connection: keep-alive, close`).
    /// Split by hand, not `contains(_:)` on strings: that is _StringProcessing's, whose code every
    /// request would then map.
    static func lists(_ token: String, in value: String) -> Bool {
        value.split { $0 == "," || $0 == " " || $0 == "\t" }.contains { $0 == token }
    }

    /// Where the head ends (after `\r\n\r\n`, or a bare `\n\n` as lenient servers allow), or nil.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count && bytes[index + 1] == 0x0A { return index + 2 }
                if index + 2 < bytes.count && bytes[index + 1] == 0x0D && bytes[index + 2] == 0x0A { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    /// The head's lines without their line ends (the blank line that ends it dropped).
    private static func split(lines head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        for index in head.indices where head[index] == 0x0A {
            var line = head[start..<index]
            if line.last == 0x0D { line = line.dropLast() }
            lines.append(line)
            start = index + 1
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines
    }

    /// RFC 9110's tchar.
    private static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

/// One header field.
public struct HTTPHeaderField: Equatable, Sendable {
    public let name: String
    public let value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(scalars[first...last])
    }
}
