/// Who may use the RPC port, with Transmission's settings.json names where the concept is the same.
public struct RPCAccess: Sendable {
    /// `rpc-whitelist-enabled`: refuse (403) addresses the whitelist does not match.
    public var whitelistEnabled = true
    /// `rpc-whitelist`: address patterns, `*` and `?` as wildcards (`192.168.*.*`).
    public var whitelist = ["127.0.0.1", "::1"]
    /// `rpc-authentication-required`: HTTP basic authentication.
    public var authenticationRequired = false
    /// `rpc-username`.
    public var username = ""
    /// `rpc-password` in plain text (when `passwordCheck` is nil).
    public var password = ""
    /// Checks a password against a stored hash instead (settings.json written by
    /// transmission-daemon holds `rpc-password` salted and hashed; hashing is not TorrentCore's).
    public var passwordCheck: (@Sendable (String) -> Bool)?
    /// The current `X-Transmission-Session-Id` (CSRF token): a client learns it from a 409.
    public var sessionID: String

    /// Loopback only, no authentication, with `sessionID` as the token.
    public init(sessionID: String) { self.sessionID = sessionID }
}

/// Where a request that passed the gate goes.
public enum RPCRoute: Equatable, Sendable {
    /// `/transmission/rpc`.
    case rpc
    /// A file of the web client: the path below `/transmission/web/` ("" for the index).
    case web(String)
    /// `/metrics` (Prometheus).
    case metrics
}

/// What the gate decided for one HTTP request.
public enum RPCGateAnswer: Equatable, Sendable {
    /// Serve it.
    case pass(RPCRoute)
    /// Answer at once with this status, headers and body.
    case answer(status: Int, headers: [Header], body: String)

    /// One header field.
    public struct Header: Equatable, Sendable {
        public let name: String
        public let value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }
}

/// The HTTP-level checks in front of the RPC, in Transmission 3.00's order (PROTOCOL-NOTES §1.1):
/// the whitelist (403); basic authentication (401 with `WWW-Authenticate`, which curl in
/// transmission-remote waits for before sending credentials); routing (the web client, and `/`
/// redirected to it, before the session id); then the session id (409 carrying the id, also for
/// the bare GET Sonarr starts with).
public enum RPCGate {
    /// The header carrying the CSRF token.
    public static let sessionHeader = "X-Transmission-Session-Id"

    /// Decides for a request to `path` from `remoteHost`; `header` looks up request headers
    /// (case-insensitively).
    public static func admit(path: String, remoteHost: String, access: RPCAccess, header: (String) -> String?) -> RPCGateAnswer {
        let host = remoteHost.hasPrefix("::ffff:") ? String(remoteHost.dropFirst(7)) : remoteHost
        if access.whitelistEnabled, !access.whitelist.contains(where: { matches(host, pattern: $0) }) {
            return .answer(
                status: 403, headers: [],
                body: "403: Forbidden. Unauthorized IP address \(host): add it to rpc-whitelist or set rpc-whitelist-enabled to false.")
        }
        if access.authenticationRequired, !authorized(header("Authorization"), access: access) {
            return .answer(
                status: 401, headers: [.init("WWW-Authenticate", "Basic realm=\"Transmission\"")],
                body: "401: Unauthorized. Unauthorized User")
        }
        let plain = String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if plain == "/metrics" { return .pass(.metrics) }
        if plain.hasPrefix("/transmission/web/") { return .pass(.web(String(plain.dropFirst("/transmission/web/".count)))) }
        if plain == "/transmission/rpc" || plain == "/transmission/rpc/" {
            guard header(sessionHeader) == access.sessionID else {
                return .answer(
                    status: 409, headers: [.init(sessionHeader, access.sessionID)],
                    body: "409: Conflict. Your request had an invalid session id: resend it with the \(sessionHeader) header of this reply.")
            }
            return .pass(.rpc)
        }
        if plain.hasPrefix("/transmission/") && plain != "/transmission/web" {
            return .answer(status: 404, headers: [], body: "404: Not Found")
        }
        return .answer(status: 301, headers: [.init("Location", "/transmission/web/")], body: "")
    }

    /// Whether an `Authorization: Basic …` value carries the configured user and password,
    /// compared in constant time (no early exit on the first differing byte).
    static func authorized(_ value: String?, access: RPCAccess) -> Bool {
        guard let value, value.count > 6, value.prefix(6).lowercased() == "basic ",
            let decoded = Base64.decode(String(value.dropFirst(6)))
        else { return false }
        guard let check = access.passwordCheck else {
            return constantTimeEqual(decoded, Array("\(access.username):\(access.password)".utf8))
        }
        guard let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let userMatches = constantTimeEqual(Array(decoded[..<colon]), Array(access.username.utf8))
        let passwordMatches = check(String(decoding: decoded[(colon + 1)...], as: UTF8.self))
        return userMatches && passwordMatches
    }

    /// Equality that looks at every byte whatever the first difference (no timing oracle).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// Glob matching (`*` any run, `?` one character), as Transmission matches its whitelist.
    static func matches(_ text: String, pattern: String) -> Bool {
        let text = Array(text.utf8), pattern = Array(pattern.trimmingSpaces.utf8)
        var t = 0, p = 0, star = -1, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                t += 1
                p += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                mark = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
