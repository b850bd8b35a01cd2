import TorrentCore

// Properties: parsing never crashes, and a parsed link formats to a URI that parses back to it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMagnet(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let magnet = try? MagnetLink(parsing: text) else { return 0 }
    guard let again = try? MagnetLink(parsing: magnet.uri) else { preconditionFailure("formatted link does not parse") }
    precondition(again.infoHash == magnet.infoHash && again.trackers == magnet.trackers, "round trip changed the link")
    return 0
}
