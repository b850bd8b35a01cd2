import TorrentCore

// Properties: decoding never crashes or exceeds its limit, whatever a tracker sends as gzip.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let output = try? Gzip.decompress(bytes, limit: 1 << 20) {
        precondition(output.count <= 1 << 20, "output past the limit")
    }
    return 0
}
