/// Which of the RPC's two dialects a client speaks; its reply is in the same one.
public enum RPCDialect: Equatable, Sendable {
    /// `{"method":"torrent-get","arguments":{…},"tag":N}`: transmission-remote 3.00, the 3.00 and
    /// 4.0 web clients, Sonarr/Radarr, cross-seed.
    case legacy
    /// `{"jsonrpc":"2.0","method":"torrent_get","params":{…},"id":N}`: Transmission 4.1's remote
    /// and web client.
    case jsonRPC
}

/// Why a request cannot be served, in terms both dialects can report.
public struct RPCFailure: Error, Equatable, Sendable {
    /// What kind of failure (JSON-RPC's error codes).
    public enum Kind: Int, Equatable, Sendable {
        /// The body is not JSON.
        case parseError = -32700
        /// JSON, but not a request (no method, arguments not an object, ...).
        case invalidRequest = -32600
        /// No such method.
        case methodNotFound = -32601
        /// The method exists; its arguments do not work.
        case invalidParams = -32602
        /// Anything the handler itself failed at.
        case internalError = -32603
    }

    /// What kind of failure.
    public var kind: Kind
    /// What went wrong, for the user (the legacy dialect's `result` string).
    public var message: String
    /// The dialect to answer in.
    public var dialect: RPCDialect
    /// The request's `tag` or `id`, echoed.
    public var tag: JSON?

    /// A failure to report in `dialect`, echoing `tag`.
    public init(_ kind: Kind, _ message: String, dialect: RPCDialect = .legacy, tag: JSON? = nil) {
        self.kind = kind
        self.message = message
        self.dialect = dialect
        self.tag = tag
    }
}

/// One RPC request in canonical form: the method and every argument key in snake_case, whatever
/// the client's dialect; `tag` echoed in the reply.
public struct RPCRequest: Equatable, Sendable {
    /// The dialect to answer in.
    public var dialect: RPCDialect
    /// The method, canonical (`torrent_get`).
    public var method: String
    /// The arguments (always an object), keys canonical; names listed in `fields` too.
    public var arguments: JSON
    /// The legacy `tag` or the JSON-RPC `id`; nil for a JSON-RPC notification (answered with no body).
    public var tag: JSON?
    /// How the client spelled each name it sent (canonical → as sent): a legacy reply uses the
    /// client's spelling where two legacy names share a canonical one (`downloadDir`, `download-dir`).
    public var spellings: [String: String] = [:]

    /// Whether no reply body is wanted (a JSON-RPC request without an id).
    public var isNotification: Bool { dialect == .jsonRPC && tag == nil }

    /// Parses a request body; the failure carries the dialect and tag it could make out.
    public init(parsing body: [UInt8], limits: JSONLimits = JSONLimits()) throws(RPCFailure) {
        try self.init(json: try Self.json(body, limits: limits))
    }

    /// The most requests one JSON-RPC batch may carry: each may list every torrent.
    public static let maxBatch = 100

    /// What a body holds: one request, or a JSON-RPC 2.0 batch (an array of them), each entry
    /// parsed on its own so one bad entry fails alone. An empty or over-long batch is one failure.
    public enum Body: Equatable, Sendable {
        case one(RPCRequest)
        case batch([Result<RPCRequest, RPCFailure>])
    }

    /// Parses a body that may be a batch.
    public static func parsingBody(_ body: [UInt8], limits: JSONLimits = JSONLimits()) throws(RPCFailure) -> Body {
        let json = try Self.json(body, limits: limits)
        guard case .array(let entries) = json else { return .one(try RPCRequest(json: json)) }
        guard !entries.isEmpty else { throw RPCFailure(.invalidRequest, "an empty batch", dialect: .jsonRPC) }
        guard entries.count <= maxBatch else {
            throw RPCFailure(.invalidRequest, "a batch of more than \(maxBatch) requests", dialect: .jsonRPC)
        }
        return .batch(entries.map { entry in
            // A batch is JSON-RPC 2.0 only; each entry answers in it, whatever it holds.
            guard entry["jsonrpc"] != nil else {
                return .failure(RPCFailure(.invalidRequest, "a batch entry must be a JSON-RPC 2.0 request", dialect: .jsonRPC, tag: entry["id"]))
            }
            do throws(RPCFailure) { return .success(try RPCRequest(json: entry)) } catch { return .failure(error) }
        })
    }

    private static func json(_ body: [UInt8], limits: JSONLimits) throws(RPCFailure) -> JSON {
        do { return try JSON(parsing: body, limits: limits) } catch {
            // Transmission answers unparseable bodies in its own dialect.
            throw RPCFailure(.parseError, "no method name (\(error))")
        }
    }

    /// A request from its parsed JSON.
    init(json: JSON) throws(RPCFailure) {
        guard case .object = json else { throw RPCFailure(.invalidRequest, "no method name") }
        let dialect: RPCDialect = json["jsonrpc"] != nil ? .jsonRPC : .legacy
        let tag = dialect == .jsonRPC ? json["id"] : json["tag"]
        if dialect == .jsonRPC, json["jsonrpc"] != .string("2.0") {
            throw RPCFailure(.invalidRequest, "jsonrpc must be \"2.0\"", dialect: dialect, tag: tag)
        }
        guard let method = json["method"]?.stringValue, !method.isEmpty else {
            throw RPCFailure(.invalidRequest, "no method name", dialect: dialect, tag: tag)
        }
        let arguments = json[dialect == .jsonRPC ? "params" : "arguments"] ?? .object([])
        guard case .object = arguments else {
            throw RPCFailure(.invalidParams, "arguments must be an object", dialect: dialect, tag: tag)
        }
        self.dialect = dialect
        self.method = RPCNames.canonical(method)
        self.arguments = Self.canonicalKeys(arguments)
        self.tag = tag
        if dialect == .legacy { Self.collectSpellings(arguments, into: &spellings) }
    }

    /// A request built in code (tests, internal calls).
    public init(dialect: RPCDialect, method: String, arguments: JSON = .object([]), tag: JSON? = nil) {
        self.dialect = dialect
        self.method = method
        self.arguments = arguments
        self.tag = tag
    }

    private static func collectSpellings(_ value: JSON, key: String? = nil, into spellings: inout [String: String]) {
        switch value {
        case .object(let members):
            for (name, member) in members {
                spellings[RPCNames.canonical(name)] = name
                collectSpellings(member, key: name, into: &spellings)
            }
        case .array(let elements) where key == "fields":
            for name in elements.compactMap(\.stringValue) { spellings[RPCNames.canonical(name)] = name }
        default:
            break
        }
    }

    /// Object keys in snake_case at every depth; the strings of a `fields` list and the
    /// `recently-active` selector too (they are names); other values untouched.
    static func canonicalKeys(_ value: JSON, key: String? = nil) -> JSON {
        switch value {
        case .object(let members):
            return .object(members.map { name, member in
                let canonical = RPCNames.canonical(name)
                return (canonical, canonicalKeys(member, key: canonical))
            })
        case .array(let elements) where key == "fields":
            return .array(elements.map { element in element.stringValue.map { .string(RPCNames.canonical($0)) } ?? element })
        case .array(let elements):
            return .array(elements.map { canonicalKeys($0) })
        case .string("recently-active") where key == "ids":
            return .string("recently_active")
        default:
            return value
        }
    }
}
