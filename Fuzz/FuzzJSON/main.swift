import TorrentCore

// Properties, for any bytes an RPC client sends: parsing never crashes, never recurses past its
// depth limit, and whatever parses encodes to JSON that parses back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = JSONLimits()
    limits.maxDepth = 16
    guard let value = try? JSON(parsing: bytes, limits: limits) else { return 0 }
    let again = try? JSON(parsing: value.encoded(), limits: limits)
    precondition(again == value, "encoding did not round-trip")
    return 0
}
