/// A BEP 14 local service discovery announcement: HTTP-like text over UDP multicast,
/// `BT-SEARCH * HTTP/1.1` with the group as `Host`, our peer `Port`, one `Infohash` line per
/// torrent, and a `cookie` that lets us drop our own announcements when the group loops them back.
public struct LSDAnnouncement: Equatable, Sendable {
    /// The IPv4 group and port.
    public static let groupV4 = "239.192.152.143"
    /// The IPv6 group (site-local scope).
    public static let groupV6 = "ff15::efc0:988f"
    public static let port: UInt16 = 6771
    /// The largest packet sent or read (BEP 14 keeps announcements within one MTU).
    public static let maxBytes = 1400
    /// Info hashes in one packet at most, within `maxBytes`.
    public static let maxHashes = 20

    /// The sender's peer port.
    public var peerPort: UInt16
    public var infoHashes: [InfoHash]
    /// The sender's cookie (empty: none given).
    public var cookie: String

    public init(peerPort: UInt16, infoHashes: [InfoHash], cookie: String) {
        self.peerPort = peerPort
        self.infoHashes = infoHashes
        self.cookie = cookie
    }

    /// The packet, for the group `host` (`groupV4:6771` or `[groupV6]:6771`).
    public func encoded(host: String) -> [UInt8] {
        var text = "BT-SEARCH * HTTP/1.1\r\nHost: \(host)\r\nPort: \(peerPort)\r\n"
        for hash in infoHashes.prefix(Self.maxHashes) { text += "Infohash: \(hash.hex)\r\n" }
        if !cookie.isEmpty { text += "cookie: \(cookie)\r\n" }
        text += "\r\n\r\n"
        return Array(text.utf8)
    }

    /// Why a packet was not taken.
    public enum Failure: Error, Equatable, Sendable {
        case malformed(String)
    }

    /// Reads a packet: the request line, a port in 1...65535, and at least one well-formed info
    /// hash (malformed ones are skipped, at most `maxHashes` taken); header names in any case.
    public init(decoding bytes: [UInt8]) throws(Failure) {
        guard bytes.count <= Self.maxBytes else { throw .malformed("\(bytes.count) bytes, over \(Self.maxBytes)") }
        let lines = String(decoding: bytes, as: UTF8.self).split(omittingEmptySubsequences: true) { $0 == "\r\n" || $0 == "\n" }
        guard let first = lines.first, first.hasPrefix("BT-SEARCH * HTTP/1.") else { throw .malformed("not a BT-SEARCH request") }
        var port: UInt16?
        var hashes: [InfoHash] = []
        var cookie = ""
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            switch name {
            case "port": port = UInt16(value).flatMap { $0 > 0 ? $0 : nil }
            case "infohash":
                if value.utf8.count == 40, let hash = InfoHash(text: value), hashes.count < Self.maxHashes, !hashes.contains(hash) {
                    hashes.append(hash)
                }
            // Printable ASCII only, at most 64 characters: what is kept reads back the same.
            case "cookie": cookie = String(String.UnicodeScalarView(value.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F }.prefix(64)))
            default: continue
            }
        }
        guard let port else { throw .malformed("no valid Port") }
        guard !hashes.isEmpty else { throw .malformed("no valid Infohash") }
        self.init(peerPort: port, infoHashes: hashes, cookie: cookie)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" || text.last == "\r" { text = text.dropLast() }
        return text
    }
}

/// When to announce what on the local network (BEP 14), with no I/O: each torrent every five
/// minutes, one packet a minute at most, up to `LSDAnnouncement.maxHashes` per packet, in turns
/// (above that many torrents each waits its turn); and what to take from others: not our own
/// echo, and not the same host and torrent more than once a minute.
public struct LSDSchedule: Sendable {
    /// How often each torrent is announced.
    public static let torrentInterval: Duration = .seconds(300)
    /// The least time between two packets.
    public static let packetInterval: Duration = .seconds(60)
    /// Hosts and torrents remembered for the once-a-minute rule at most (older ones go first).
    public static let memory = 4096

    private var lastAnnounced: [InfoHash: ContinuousClock.Instant] = [:]
    private var lastPacket: ContinuousClock.Instant?
    private var heard: [String: ContinuousClock.Instant] = [:]
    /// Our cookie.
    public let cookie: String

    public init(cookie: String) { self.cookie = cookie }

    /// Whether a packet may go now (a minute since the last).
    public func isPacketDue(now: ContinuousClock.Instant) -> Bool { lastPacket.map { now - $0 >= Self.packetInterval } ?? true }

    /// The torrents to announce now among `torrents` (those that may be: public and running),
    /// those never announced first, then the longest waiting; nil when a packet went less than a
    /// minute ago or none is due.
    public mutating func due(_ torrents: [InfoHash], now: ContinuousClock.Instant) -> [InfoHash]? {
        if let lastPacket, now - lastPacket < Self.packetInterval { return nil }
        let waiting = torrents.filter { hash in lastAnnounced[hash].map { now - $0 >= Self.torrentInterval } ?? true }
        guard !waiting.isEmpty else { return nil }
        let chosen = waiting.sorted { a, b in
            switch (lastAnnounced[a], lastAnnounced[b]) {
            case (nil, nil): return a.hex < b.hex
            case (nil, _): return true
            case (_, nil): return false
            case (let x?, let y?): return x == y ? a.hex < b.hex : x < y
            }
        }.prefix(LSDAnnouncement.maxHashes)
        for hash in chosen { lastAnnounced[hash] = now }
        lastPacket = now
        // Torrents gone from the list are forgotten.
        if lastAnnounced.count > torrents.count * 2 + 64 {
            let present = Set(torrents)
            lastAnnounced = lastAnnounced.filter { present.contains($0.key) }
        }
        return Array(chosen)
    }

    /// An announcement from `host`: the torrents to take it as a peer for (our own echo and
    /// repeats within a minute give none).
    public mutating func heard(_ announcement: LSDAnnouncement, from host: String, now: ContinuousClock.Instant) -> [InfoHash] {
        guard announcement.cookie != cookie || cookie.isEmpty else { return [] }
        var fresh: [InfoHash] = []
        for hash in announcement.infoHashes {
            let key = host + "|" + String(announcement.peerPort) + "|" + hash.hex
            if let last = heard[key], now - last < Self.packetInterval { continue }
            heard[key] = now
            fresh.append(hash)
        }
        if heard.count > Self.memory { heard = heard.filter { now - $0.value < Self.packetInterval } }
        return fresh
    }
}

