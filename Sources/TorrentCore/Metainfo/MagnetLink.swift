/// Why a magnet URI cannot be used.
public enum MagnetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text does not start with `magnet:?`.
    case notAMagnet
    /// No `xt=urn:btih:` parameter.
    case missingInfoHash
    /// An info hash that is neither 40 hex digits nor 32 base32 characters.
    case invalidInfoHash(String)
    /// A parameter with a broken `%` escape.
    case malformedEscape(String)
    /// Only a v2 (`urn:btmh:`) hash, which this version cannot use.
    case v2Only

    public var description: String {
        switch self {
        case .notAMagnet: return "not a magnet link (it must start with 'magnet:?')"
        case .missingInfoHash: return "magnet link has no 'xt=urn:btih:' info hash"
        case .invalidInfoHash(let text):
            return "magnet link info hash '\(text)' is not 40 hex digits or 32 base32 characters"
        case .malformedEscape(let text): return "magnet link parameter '\(text)' has a broken %-escape"
        case .v2Only: return "magnet link has only a BitTorrent v2 hash (urn:btmh), which is not supported yet"
        }
    }
}

/// A magnet URI for a v1 torrent (BEP 9): info hash, display name, trackers, web seeds and peers.
public struct MagnetLink: Equatable, Sendable, CustomStringConvertible {
    /// `xt=urn:btih:`.
    public var infoHash: InfoHash
    /// `dn`.
    public var displayName: String?
    /// `tr`, in order.
    public var trackers: [String]
    /// `ws` (BEP 19).
    public var webSeeds: [String]
    /// `x.pe`, peer addresses as `host:port`.
    public var peers: [String]

    /// A magnet link from its parts.
    public init(
        infoHash: InfoHash, displayName: String? = nil, trackers: [String] = [], webSeeds: [String] = [],
        peers: [String] = []
    ) {
        self.infoHash = infoHash
        self.displayName = displayName
        self.trackers = trackers
        self.webSeeds = webSeeds
        self.peers = peers
    }

    /// Parses `magnet:?xt=urn:btih:...&dn=...&tr=...`; hex or base32 hashes, any parameter order.
    public init(parsing text: String) throws(MagnetError) {
        let prefix = "magnet:?"
        guard text.count > prefix.count, text.prefix(prefix.count).lowercased() == prefix else { throw .notAMagnet }
        var hash: InfoHash?
        var sawV2 = false
        var name: String?
        var trackers: [String] = []
        var webSeeds: [String] = []
        var peers: [String] = []
        for parameter in text.dropFirst(prefix.count).split(separator: "&") {
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            guard let bytes = PercentEncoding.decode(parts[1]) else { throw .malformedEscape(String(parameter)) }
            let value = String(decoding: bytes, as: UTF8.self)
            let key = parts[0].lowercased()
            if key == "xt" || key.hasPrefix("xt.") {
                let lower = value.lowercased()
                if lower.hasPrefix("urn:btih:") {
                    let digits = value.dropFirst("urn:btih:".count)
                    guard let parsed = InfoHash(text: digits) else { throw .invalidInfoHash(String(digits)) }
                    hash = hash ?? parsed
                } else if lower.hasPrefix("urn:btmh:") {
                    sawV2 = true
                }
            } else if value.isEmpty {
                continue
            } else if key == "dn" {
                name = value
            } else if key == "tr" || key.hasPrefix("tr.") {
                trackers.append(value)
            } else if key == "ws" {
                webSeeds.append(value)
            } else if key == "x.pe" {
                peers.append(value)
            }
        }
        guard let hash else { throw sawV2 ? .v2Only : .missingInfoHash }
        self.init(infoHash: hash, displayName: name, trackers: trackers, webSeeds: webSeeds, peers: peers)
    }

    /// The URI, with the hash in hex and every value percent-encoded.
    public var uri: String {
        var text = "magnet:?xt=urn:btih:" + infoHash.hex
        if let displayName { text += "&dn=" + PercentEncoding.encode(displayName.utf8) }
        for tracker in trackers { text += "&tr=" + PercentEncoding.encode(tracker.utf8) }
        for seed in webSeeds { text += "&ws=" + PercentEncoding.encode(seed.utf8) }
        for peer in peers { text += "&x.pe=" + PercentEncoding.encode(peer.utf8) }
        return text
    }

    public var description: String { uri }
}

extension Metainfo {
    /// The magnet link for this torrent: info hash, name and every tracker.
    public var magnetLink: MagnetLink {
        MagnetLink(infoHash: infoHash, displayName: info.name, trackers: trackers, webSeeds: webSeeds)
    }
}
