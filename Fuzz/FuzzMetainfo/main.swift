import TorrentCore

// Properties: parsing never crashes; an accepted torrent is self-consistent (hash count matches
// the layout, sizes add up, every path component is safe to join under a download directory),
// and its info bytes are a bencoded dictionary exactly as found: canonical when the strict parse
// (sorted keys, as `create` and `info --strict` ask) takes the file too, keys in any order else.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetainfo(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Any 20-byte function will do: this target tests parsing, not SHA-1.
    let fakeSHA1: (ArraySlice<UInt8>) -> [UInt8] = { slice in
        var out = [UInt8](repeating: 0, count: 20)
        for (index, byte) in slice.enumerated() { out[index % 20] &+= byte }
        return out
    }
    let limits = BencodeLimits(maxDepth: 32, maxInputBytes: 1 << 20)
    guard let metainfo = try? Metainfo(bencoded: bytes, sha1: fakeSHA1, limits: limits) else { return 0 }
    let info = metainfo.info
    precondition(info.pieceCount == info.layout.pieceCount, "piece count mismatch accepted")
    precondition(info.totalLength == info.files.reduce(0) { $0 + $1.length }, "sizes do not add up")
    precondition(info.totalLength > 0 && info.pieceLength > 0)
    for index in info.files.indices {
        for component in info.relativePath(of: FileIndex(index)) {
            precondition(
                !component.isEmpty && component != "." && component != ".." && !component.contains("/")
                    && !component.contains("\\") && !component.contains("\0"), "unsafe path accepted: \(component)")
        }
    }
    var lenient = limits
    lenient.allowsUnsortedKeys = true
    guard let infoValue = try? Bencode.decode(metainfo.infoBytes, limits: lenient) else { preconditionFailure("info bytes do not decode") }
    if (try? Metainfo(bencoded: bytes, sha1: fakeSHA1, limits: limits, strict: true)) != nil {
        precondition(Bencode.encode(infoValue) == metainfo.infoBytes, "info bytes of a strict torrent are not canonical")
    }
    _ = metainfo.magnetLink.uri
    return 0
}
