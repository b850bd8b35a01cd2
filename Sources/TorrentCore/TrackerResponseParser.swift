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
        if let reason = top["failure reason"] { throw .failure(reason.stringValue ?? "(unreadable reason)") }
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
        warning = top["warning message"]?.stringValue
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
