/// Replies in the dialect of the request (PROTOCOL-NOTES §1.2). Handlers write canonical
/// (snake_case) keys; the legacy dialect gets them spelled its way. Legacy replies always carry
/// `result` and echo `tag` (transmission-remote prints nothing without it); JSON-RPC replies carry
/// `"jsonrpc":"2.0"` (Transmission 4.1's clients refuse a reply without it).
public enum RPCReply {
    /// The reply body for a successful `request` with `arguments` (canonical keys, or with
    /// `spelled` already in the request's dialect: a large reply skips a pass over every object).
    public static func success(_ arguments: [(String, JSON)], to request: RPCRequest, spelled: Bool = false) -> [UInt8] {
        switch request.dialect {
        case .legacy:
            let body: JSON = spelled ? .object(arguments) : legacyKeys(.object(arguments), spellings: request.spellings)
            var members: [(String, JSON)] = [("arguments", body), ("result", .string("success"))]
            if let tag = request.tag { members.append(("tag", tag)) }
            return JSON.object(members).encoded()
        case .jsonRPC:
            return JSON.object([("jsonrpc", .string("2.0")), ("result", .object(arguments)), ("id", request.tag ?? .null)]).encoded()
        }
    }

    /// The reply body for a request that failed.
    public static func failure(_ failure: RPCFailure) -> [UInt8] {
        switch failure.dialect {
        case .legacy:
            var members: [(String, JSON)] = [("arguments", .object([])), ("result", .string(legacyResult(failure)))]
            if let tag = failure.tag { members.append(("tag", tag)) }
            return JSON.object(members).encoded()
        case .jsonRPC:
            let error: JSON = .object([
                ("code", .integer(Int64(failure.kind.rawValue))), ("message", .string(jsonRPCMessage(failure.kind))),
                ("data", .object([("error_string", .string(failure.message))])),
            ])
            return JSON.object([("jsonrpc", .string("2.0")), ("error", error), ("id", failure.tag ?? .null)]).encoded()
        }
    }

    /// A JSON-RPC 2.0 batch reply: the entries' replies in one array.
    public static func batch(_ replies: [[UInt8]]) -> [UInt8] {
        var body: [UInt8] = [UInt8(ascii: "[")]
        for (index, reply) in replies.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += reply
        }
        body.append(UInt8(ascii: "]"))
        return body
    }

    /// The `result` string Transmission gives: clients match "method name not recognized".
    private static func legacyResult(_ failure: RPCFailure) -> String {
        failure.kind == .methodNotFound ? "method name not recognized" : failure.message
    }

    private static func jsonRPCMessage(_ kind: RPCFailure.Kind) -> String {
        switch kind {
        case .parseError: return "Parse error"
        case .invalidRequest: return "Invalid Request"
        case .methodNotFound: return "Method not found"
        case .invalidParams: return "Invalid params"
        case .internalError: return "Internal error"
        }
    }

    /// Object keys in their legacy spelling (the client's own where it sent one), at every depth.
    public static func legacyKeys(_ value: JSON, spellings: [String: String]) -> JSON {
        switch value {
        case .object(let members):
            return .object(members.map { (spellings[$0.0] ?? RPCNames.legacy($0.0), legacyKeys($0.1, spellings: spellings)) })
        case .array(let elements): return .array(elements.map { legacyKeys($0, spellings: spellings) })
        default: return value
        }
    }
}
