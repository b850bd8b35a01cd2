/// Why a tracker's answer is unusable.
public enum TrackerResponseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not bencode, or not a dictionary.
    case malformed(String)
    /// The tracker refused: its `failure reason`.
    case failure(String)

    public var description: String {
        switch self {
        case .malformed(let detail): return "malformed tracker response: \(detail)"
        case .failure(let reason): return "tracker said: \(reason)"
        }
    }
}

extension AnnounceResponse {
    /// Parses an announce answer: compact `peers`/`peers6` (BEP 23/7) or the dictionary form,
    /// `interval`, `min interval`, counts, `warning message`, `tracker id`, or `failure reason`.
    /// A truncated compact list keeps its whole entries.
    public init(bencoded bytes: [UInt8]) throws(TrackerResponseError) {
        let value: BencodeValue
        do { value = try Bencode.decode(bytes, limits: BencodeLimits(maxDepth: 8, maxInputBytes: 4 << 20)) } catch {
            throw .malformed(error.description)
        }
        guard let top = value.dictionaryValue else { throw .malformed("not a dictionary") }
        if let reason = failureReason(top) { throw .failure(reason) }
        guard let interval = top["interval"]?.integerValue, interval > 0 else { throw .malformed("no valid 'interval'") }
        var peers: [TrackerPeer] = []
        switch top["peers"] {
        case .bytes(let compact)?: peers += Self.compactPeers(compact, size: 4)
        case .list(let entries)?:
            for entry in entries {
                guard let dictionary = entry.dictionaryValue, let host = dictionary["ip"]?.stringValue,
                    let port = dictionary["port"]?.integerValue, port > 0, port < 65536,
                    let ip = Self.parseIP(host)
                else { continue }
                peers.append(TrackerPeer(ip: ip, port: UInt16(port)))
            }
        default: break
        }
        if case .bytes(let compact)? = top["peers6"] { peers += Self.compactPeers(compact, size: 16) }
        self.init(
            interval: Int(clamping: interval), peers: peers, complete: top["complete"]?.integerValue.map { Int(clamping: $0) },
            incomplete: top["incomplete"]?.integerValue.map { Int(clamping: $0) })
        minInterval = top["min interval"]?.integerValue.map { Int(clamping: $0) }
        warning = top["warning message"]?.stringValue?.printable()
        trackerID = top["tracker id"]?.stringValue
    }

    private static func compactPeers(_ bytes: [UInt8], size: Int) -> [TrackerPeer] {
        stride(from: 0, to: bytes.count - bytes.count % (size + 2), by: size + 2).compactMap { offset in
            let port = UInt16(bytes[offset + size]) << 8 | UInt16(bytes[offset + size + 1])
            return port == 0 ? nil : TrackerPeer(ip: Array(bytes[offset..<offset + size]), port: port)
        }
    }

    /// Dotted IPv4 only (the dictionary form's `ip` may also be a name, which is skipped).
    private static func parseIP(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".")
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }
}

/// One torrent's counts from a scrape (BEP 48): seeds, leechers, completed downloads.
public struct ScrapeCounts: Equatable, Sendable {
    public var seeders: Int
    public var leechers: Int
    public var completed: Int

    /// Counts from their parts.
    public init(seeders: Int, leechers: Int, completed: Int) {
        self.seeders = seeders
        self.leechers = leechers
        self.completed = completed
    }

    /// The counts for `infoHash` in an HTTP scrape body (`files` keyed by raw info hash).
    public init(bencoded bytes: [UInt8], infoHash: InfoHash) throws(TrackerResponseError) {
        let value: BencodeValue
        do { value = try Bencode.decode(bytes, limits: BencodeLimits(maxDepth: 8, maxInputBytes: 4 << 20)) } catch {
            throw .malformed(error.description)
        }
        guard let top = value.dictionaryValue else { throw .malformed("not a dictionary") }
        if let reason = failureReason(top) { throw .failure(reason) }
        guard let entry = top["files"]?.dictionaryValue?[infoHash.bytes]?.dictionaryValue else {
            throw .malformed("no entry for this torrent")
        }
        self.init(
            seeders: Int(clamping: entry["complete"]?.integerValue ?? 0),
            leechers: Int(clamping: entry["incomplete"]?.integerValue ?? 0),
            completed: Int(clamping: entry["downloaded"]?.integerValue ?? 0))
    }

    /// The scrape URL for an HTTP announce URL, by BEP 48's convention (the last path component
    /// `announce…` becomes `scrape…`); nil if the tracker has none.
    public static func scrapeURL(forAnnounce url: String) -> String? {
        let query = url.firstIndex(of: "?") ?? url.endIndex
        guard let slash = url[..<query].lastIndex(of: "/") else { return nil }
        let last = url[url.index(after: slash)..<query]
        guard last.hasPrefix("announce") else { return nil }
        return String(url[...slash]) + "scrape" + last.dropFirst("announce".count) + url[query...]
    }
}

/// A tracker's `failure reason`, printable (it reaches logs, terminals and the web client).
private func failureReason(_ top: BencodeDictionary) -> String? {
    top["failure reason"].map { ($0.stringValue ?? "(unreadable reason)").printable() }
}
