import TorrentCore

// Properties, for any bytes an RPC client sends: parsing never crashes or recurses past its
// depth limit; whatever parses encodes to JSON that parses back to the same value; and as an
// RPC request or JSON-RPC batch, every input gets a reply (success or failure) that is itself
// valid JSON.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = JSONLimits()
    limits.maxDepth = 16
    func answer(_ request: RPCRequest) -> [UInt8] { RPCReply.success([("echo", request.arguments)], to: request) }
    let replyBody: [UInt8]
    do {
        switch try RPCRequest.parsingBody(bytes, limits: limits) {
        case .one(let request): replyBody = answer(request)
        case .batch(let entries):
            precondition(!entries.isEmpty && entries.count <= RPCRequest.maxBatch, "a batch out of bounds")
            replyBody = RPCReply.batch(entries.map { entry in
                switch entry {
                case .success(let request): return answer(request)
                case .failure(let failure): return RPCReply.failure(failure)
                }
            })
        }
    } catch {
        replyBody = RPCReply.failure(error)
    }
    precondition((try? JSON(parsing: replyBody)) != nil, "a reply that is not JSON")
    guard let value = try? JSON(parsing: bytes, limits: limits) else { return 0 }
    let again = try? JSON(parsing: value.encoded(), limits: limits)
    precondition(again == value, "encoding did not round-trip")
    return 0
}
