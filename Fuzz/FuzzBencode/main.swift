import TorrentCore

// Properties: decoding never crashes or hangs; whatever the strict decoder accepts is canonical,
// so encoding it again gives the input back byte for byte; decodePrefix agrees with decode.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBencode(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = BencodeLimits(maxDepth: 32, maxInputBytes: 1 << 20)
    guard let value = try? Bencode.decode(bytes, limits: limits) else { return 0 }
    precondition(Bencode.encode(value) == bytes, "accepted input is not canonical")
    guard let (prefixValue, end) = try? Bencode.decodePrefix(bytes, limits: limits) else {
        preconditionFailure("decodePrefix rejected what decode accepted")
    }
    precondition(prefixValue == value && end == bytes.count, "decodePrefix disagrees with decode")
    return 0
}
