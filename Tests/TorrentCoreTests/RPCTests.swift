import Testing

@testable import TorrentCore

private func request(_ text: String) throws(RPCFailure) -> RPCRequest { try RPCRequest(parsing: Array(text.utf8)) }
private func reply(_ bytes: [UInt8]) throws -> JSON { try JSON(parsing: bytes) }

@Suite struct RPCTests {
    // Every legacy name maps to snake_case and back, acronyms included, and 4.1's one rename.
    @Test func namesRoundTrip() {
        #expect(RPCNames.canonical("torrent-get") == "torrent_get")
        #expect(RPCNames.canonical("hashString") == "hash_string")
        #expect(RPCNames.canonical("isUTP") == "is_utp" && RPCNames.canonical("fromDht") == "from_dht")
        #expect(RPCNames.canonical("cache-size-mb") == "cache_size_mib")
        #expect(RPCNames.canonical("hash_string") == "hash_string" && RPCNames.canonical("id") == "id")
        let shared: Set = ["downloadDir", "fileCount"]
        for name in RPCNames.legacyNames where !shared.contains(name) {
            #expect(RPCNames.legacy(RPCNames.canonical(name)) == name, "\(name)")
        }
    }

    // transmission-remote 3.00's `-l`: the legacy dialect, canonical inside; the reply spells the
    // fields back as asked, says `result: success`, and echoes the tag (without it the remote prints
    // nothing).
    @Test func legacyRequestAndReply() throws {
        let list = try request(#"{"arguments":{"fields":["id","hashString","downloadDir","peersGettingFromUs"]},"method":"torrent-get","tag":4}"#)
        #expect(list.dialect == .legacy && list.method == "torrent_get" && list.tag == .integer(4))
        #expect(list.arguments["fields"] == .array(["id", "hash_string", "download_dir", "peers_getting_from_us"].map(JSON.string)))
        let torrent: JSON = .object([("id", .integer(1)), ("hash_string", .string("ab")), ("download_dir", .string("/d"))])
        let body = try reply(RPCReply.success([("torrents", .array([torrent]))], to: list))
        #expect(body["result"] == .string("success") && body["tag"] == .integer(4))
        #expect(body["arguments"]?["torrents"]?.arrayValue?.first?.objectValue?.map(\.0) == ["id", "hashString", "downloadDir"])
        // session-get names no fields: the session's own spelling of the same canonical name.
        let session = try request(#"{"method":"session-get","tag":1}"#)
        let settings = try reply(RPCReply.success([("download_dir", .string("/d")), ("rpc_version", .integer(17))], to: session))
        #expect(settings["arguments"]?.objectValue?.map(\.0) == ["download-dir", "rpc-version"])
    }

    // Transmission 4.1 speaks JSON-RPC 2.0 with snake_case: the reply carries "jsonrpc":"2.0",
    // the result object and the id; a request without an id is a notification.
    @Test func jsonRPCRequestAndReply() throws {
        let get = try request(#"{"jsonrpc":"2.0","method":"torrent_get","params":{"fields":["hash_string"],"ids":"recently_active","format":"table"},"id":"x"}"#)
        #expect(get.dialect == .jsonRPC && get.method == "torrent_get" && get.tag == .string("x") && !get.isNotification)
        let body = try reply(RPCReply.success([("torrents", .array([])), ("removed", .array([]))], to: get))
        #expect(body["jsonrpc"] == .string("2.0") && body["id"] == .string("x") && body["result"]?["removed"] == .array([]))
        #expect(body["arguments"] == nil)
        #expect(try request(#"{"jsonrpc":"2.0","method":"session_close"}"#).isNotification)
        // The legacy selector is canonicalized too.
        #expect(try request(#"{"method":"torrent-get","arguments":{"ids":"recently-active"}}"#).arguments["ids"] == .string("recently_active"))
    }

    // A JSON-RPC 2.0 batch: each entry parsed alone (a bad one fails alone, with its id; a
    // legacy object inside a batch is refused), an empty or over-long batch is one failure, and
    // the reply is the entries' replies in one array.
    @Test func jsonRPCBatch() throws {
        let body = Array(#"[{"jsonrpc":"2.0","method":"session_get","id":1},{"jsonrpc":"2.0","method":"torrent_get","params":[1],"id":2},{"method":"torrent-get","tag":3},7,{"jsonrpc":"2.0","method":"session_stats"}]"#.utf8)
        guard case .batch(let entries) = try RPCRequest.parsingBody(body) else {
            Issue.record("an array was not taken as a batch")
            return
        }
        #expect(entries.count == 5)
        #expect((try? entries[0].get())?.method == "session_get")
        #expect(entries[1] == .failure(RPCFailure(.invalidParams, "arguments must be an object", dialect: .jsonRPC, tag: .integer(2))))
        guard case .failure(let legacy) = entries[2], case .failure(let number) = entries[3] else {
            Issue.record("a legacy entry or a number was taken in a batch")
            return
        }
        #expect(legacy.kind == .invalidRequest && legacy.dialect == .jsonRPC && number.kind == .invalidRequest)
        #expect((try? entries[4].get())?.isNotification == true)
        if case .one(let one) = try RPCRequest.parsingBody(Array(#"{"method":"session-get","tag":1}"#.utf8)) {
            #expect(one.dialect == .legacy)
        } else {
            Issue.record("one request was taken as a batch")
        }
        for refused in ["[]", "[" + Array(repeating: #"{"jsonrpc":"2.0","method":"session_get","id":1}"#, count: RPCRequest.maxBatch + 1).joined(separator: ",") + "]"] {
            #expect(throws: RPCFailure.self) { try RPCRequest.parsingBody(Array(refused.utf8)) }
        }
        let joined = try JSON(parsing: RPCReply.batch([Array(#"{"id":1}"#.utf8), Array(#"{"id":2}"#.utf8)]))
        #expect(joined == .array([.object([("id", .integer(1))]), .object([("id", .integer(2))])]))
    }

    // Failures: each dialect's shape, an unknown method with the string clients match, garbage
    // and oversized bodies refused with a clear result, the tag kept where it could be read.
    @Test func failuresInBothDialects() throws {
        let unknown = RPCFailure(.methodNotFound, "no method torrent_frobnicate", dialect: .legacy, tag: .integer(9))
        let legacy = try reply(RPCReply.failure(unknown))
        #expect(legacy["result"] == .string("method name not recognized") && legacy["tag"] == .integer(9) && legacy["arguments"] == .object([]))
        var jsonRPC = unknown
        jsonRPC.dialect = .jsonRPC
        let error = try reply(RPCReply.failure(jsonRPC))
        #expect(error["error"]?["code"] == .integer(-32601) && error["id"] == .integer(9) && error["jsonrpc"] == .string("2.0"))

        func failure(_ body: [UInt8], limits: JSONLimits = JSONLimits()) -> RPCFailure? {
            do {
                _ = try RPCRequest(parsing: body, limits: limits)
                return nil
            } catch { return error }
        }
        #expect(failure(Array("{not json".utf8))?.kind == .parseError)
        #expect(failure(Array("[1,2]".utf8))?.kind == .invalidRequest)
        #expect(failure(Array(#"{"arguments":{},"tag":3}"#.utf8)) == RPCFailure(.invalidRequest, "no method name", tag: .integer(3)))
        #expect(failure(Array(#"{"method":"torrent-get","arguments":[1],"tag":3}"#.utf8))?.kind == .invalidParams)
        #expect(failure(Array(#"{"jsonrpc":"1.0","method":"x","id":1}"#.utf8))?.dialect == .jsonRPC)
        var small = JSONLimits()
        small.maxInputBytes = 64
        let big = Array(#"{"method":"torrent-add","arguments":{"metainfo":"\#(String(repeating: "A", count: 100))"}}"#.utf8)
        #expect(failure(big, limits: small)?.kind == .parseError)
        // Whatever failed, the legacy reply is still valid JSON with a result string.
        let garbage = try reply(RPCReply.failure(try #require(failure([0xFF, 0x00]))))
        #expect(garbage["result"]?.stringValue?.hasPrefix("no method name") == true)
    }
}
