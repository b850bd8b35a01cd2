/// The `event` of an announce (BEP 3).
public enum AnnounceEvent: String, Sendable {
    case none = "", started, completed, stopped
}

/// Why an announce or scrape query cannot be answered.
public enum TrackerRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required parameter is absent or malformed.
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .invalidParameter(let name): return "missing or invalid '\(name)'"
        }
    }
}

/// An announce as a tracker receives it, parsed from the query string (BEP 3, BEP 23, BEP 7).
public struct AnnounceRequest: Equatable, Sendable {
    public var infoHash: InfoHash
    public var peerID: [UInt8]
    public var port: UInt16
    public var uploaded: Int64 = 0
    public var downloaded: Int64 = 0
    public var left: Int64 = 0
    public var event: AnnounceEvent = .none
    public var compact = true
    public var numwant = 50
    public var key: String?
    public var trackerID: String?

    /// An announce with the required fields.
    public init(infoHash: InfoHash, peerID: [UInt8], port: UInt16) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
    }

    /// Parses a raw (percent-encoded) query string. Byte fields are decoded as raw bytes.
    public init(query: String) throws(TrackerRequestError) {
        let fields = QueryString.parse(query)
        guard let hashBytes = fields["info_hash"]?.first, let hash = InfoHash(bytes: hashBytes) else {
            throw .invalidParameter("info_hash")
        }
        guard let peerID = fields["peer_id"]?.first, peerID.count == 20 else { throw .invalidParameter("peer_id") }
        guard let portText = fields.text("port"), let port = UInt16(portText), port > 0 else {
            throw .invalidParameter("port")
        }
        self.init(infoHash: hash, peerID: peerID, port: port)
        uploaded = fields.text("uploaded").flatMap { Int64($0) }.map { max(0, $0) } ?? 0
        downloaded = fields.text("downloaded").flatMap { Int64($0) }.map { max(0, $0) } ?? 0
        left = fields.text("left").flatMap { Int64($0) }.map { max(0, $0) } ?? 0
        if let event = fields.text("event") {
            guard let parsed = AnnounceEvent(rawValue: event) else { throw .invalidParameter("event") }
            self.event = parsed
        }
        compact = fields.text("compact") != "0"
        numwant = fields.text("numwant").flatMap { Int($0) }.map { min(max(0, $0), 200) } ?? 50
        key = fields.text("key")
        trackerID = fields.text("trackerid")
    }

    /// The query string a client sends (info_hash and peer_id as raw percent-encoded bytes).
    public func query() -> String {
        var parts = [
            "info_hash=" + PercentEncoding.encode(infoHash.bytes), "peer_id=" + PercentEncoding.encode(peerID),
            "port=\(port)", "uploaded=\(uploaded)", "downloaded=\(downloaded)", "left=\(left)",
            "compact=\(compact ? 1 : 0)", "numwant=\(numwant)",
        ]
        if event != .none { parts.append("event=\(event.rawValue)") }
        if let key { parts.append("key=" + PercentEncoding.encode(key.utf8)) }
        if let trackerID { parts.append("trackerid=" + PercentEncoding.encode(trackerID.utf8)) }
        return parts.joined(separator: "&")
    }
}

/// `key=value&...` with repeated keys kept, values percent-decoded to raw bytes.
public struct QueryString: Sendable {
    private var fields: [String: [[UInt8]]] = [:]

    /// Parses `query`; undecodable pairs are skipped.
    public static func parse(_ query: String) -> QueryString {
        var result = QueryString()
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentEncoding.decode(parts[0], plusIsSpace: false),
                let value = PercentEncoding.decode(parts.count > 1 ? parts[1] : "", plusIsSpace: false)
            else { continue }
            result.fields[String(decoding: key, as: UTF8.self), default: []].append(value)
        }
        return result
    }

    /// Every value of `key`.
    public subscript(key: String) -> [[UInt8]]? { fields[key] }

    /// The first value of `key` as text.
    public func text(_ key: String) -> String? { fields[key]?.first.map { String(decoding: $0, as: UTF8.self) } }
}

/// A peer in a tracker's answer.
public struct TrackerPeer: Hashable, Sendable {
    /// 4 bytes (IPv4) or 16 (IPv6).
    public let ip: [UInt8]
    public let port: UInt16

    /// A peer at `ip` (4 or 16 bytes) and `port`.
    public init(ip: [UInt8], port: UInt16) {
        precondition(ip.count == 4 || ip.count == 16)
        self.ip = ip
        self.port = port
    }

    /// The 6- or 18-byte compact form (BEP 23, BEP 7).
    public var compact: [UInt8] { ip + [UInt8(port >> 8), UInt8(port & 0xFF)] }
}

/// What a tracker answered to an announce.
public struct AnnounceResponse: Equatable, Sendable {
    public var interval: Int
    public var minInterval: Int?
    public var complete: Int?
    public var incomplete: Int?
    public var peers: [TrackerPeer]
    public var warning: String?
    public var trackerID: String?

    /// A response with the given fields.
    public init(interval: Int, peers: [TrackerPeer], complete: Int? = nil, incomplete: Int? = nil) {
        self.interval = interval
        self.peers = peers
        self.complete = complete
        self.incomplete = incomplete
    }

    /// The bencoded body; compact unless `compact` is false (then the dictionary form, BEP 3).
    public func encoded(compact: Bool = true) -> [UInt8] {
        var dictionary = BencodeDictionary()
        dictionary["interval"] = .integer(Int64(interval))
        if let minInterval { dictionary["min interval"] = .integer(Int64(minInterval)) }
        if let complete { dictionary["complete"] = .integer(Int64(complete)) }
        if let incomplete { dictionary["incomplete"] = .integer(Int64(incomplete)) }
        if let warning { dictionary["warning message"] = .string(warning) }
        if let trackerID { dictionary["tracker id"] = .string(trackerID) }
        let v4 = peers.filter { $0.ip.count == 4 }
        let v6 = peers.filter { $0.ip.count == 16 }
        if compact {
            dictionary["peers"] = .bytes(v4.flatMap(\.compact))
            if !v6.isEmpty { dictionary["peers6"] = .bytes(v6.flatMap(\.compact)) }
        } else {
            dictionary["peers"] = .list(
                peers.map { peer in
                    .dictionary(BencodeDictionary([("ip", .string(TrackerPeer.text(peer.ip))), ("port", .integer(Int64(peer.port)))]))
                })
        }
        return Bencode.encode(.dictionary(dictionary))
    }

    /// A `failure reason` body.
    public static func failure(_ reason: String) -> [UInt8] {
        Bencode.encode(.dictionary(BencodeDictionary([("failure reason", .string(reason))])))
    }
}

extension TrackerPeer {
    /// Dotted IPv4 or colon-separated IPv6 text (uncompressed).
    static func text(_ ip: [UInt8]) -> String {
        if ip.count == 4 { return ip.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}
