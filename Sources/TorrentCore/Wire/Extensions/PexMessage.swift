/// A BEP 11 (`ut_pex`) message: peers the sender connected to (`added`, `added6`, with a flags
/// byte each in `added.f`, `added6.f`) and peers it lost (`dropped`, `dropped6`), compact.
/// Decoding trusts nothing it is given: whole entries only, at most `maxEntries` per list, no
/// port 0, no duplicates, and a peer both added and dropped counts as neither.
public struct PexMessage: Equatable, Sendable {
    /// What the sender knows of an added peer.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// It prefers encryption.
        public static let encryption = Flags(rawValue: 0x01)
        /// It is a seed (or upload only).
        public static let seed = Flags(rawValue: 0x02)
        /// It speaks uTP.
        public static let utp = Flags(rawValue: 0x04)
        /// It supports holepunching (BEP 55).
        public static let holepunch = Flags(rawValue: 0x08)
        /// The sender reached it by connecting out: it accepts connections.
        public static let reachable = Flags(rawValue: 0x10)
    }

    /// A peer added, with its flags.
    public struct Entry: Hashable, Sendable {
        public var peer: TrackerPeer
        public var flags: Flags
        public init(_ peer: TrackerPeer, flags: Flags = []) {
            self.peer = peer
            self.flags = flags
        }
    }

    /// Entries taken from each list of a message at most (libtorrent sends at most 100, and 50
    /// after its first message); the rest is ignored.
    public static let maxEntries = 200

    public var added: [Entry]
    public var dropped: [TrackerPeer]

    public init(added: [Entry] = [], dropped: [TrackerPeer] = []) {
        self.added = added
        self.dropped = dropped
    }

    /// Why a message was refused.
    public enum Failure: Error, Equatable, Sendable {
        case malformed(String)
    }

    /// Decodes an extended message's payload.
    public init(decoding payload: [UInt8]) throws(Failure) {
        let value: BencodeValue
        do { value = try Bencode.decode(payload, limits: BencodeLimits(maxDepth: 2, maxInputBytes: 1 << 20)) } catch {
            throw .malformed("not bencoded: \(error)")
        }
        guard let dictionary = value.dictionaryValue else { throw .malformed("not a dictionary") }
        var added: [Entry] = []
        var seen: Set<TrackerPeer> = []
        for (key, width) in [("added", 4), ("added6", 16)] {
            let peers = Self.peers(dictionary[key]?.bytesValue ?? [], width: width)
            let flags = dictionary[key + ".f"]?.bytesValue ?? []
            for (index, peer) in peers.enumerated() where seen.insert(peer).inserted {
                added.append(Entry(peer, flags: Flags(rawValue: index < flags.count ? flags[index] : 0)))
            }
        }
        var dropped: [TrackerPeer] = []
        for (key, width) in [("dropped", 4), ("dropped6", 16)] {
            for peer in Self.peers(dictionary[key]?.bytesValue ?? [], width: width) where !dropped.contains(peer) { dropped.append(peer) }
        }
        // Added and dropped in one message: neither is believed.
        let both = Set(dropped).intersection(added.map(\.peer))
        self.added = added.filter { !both.contains($0.peer) }
        self.dropped = dropped.filter { !both.contains($0) }
    }

    /// Whole compact entries of `width` address bytes plus a port, at most `maxEntries`, port 0 left out.
    private static func peers(_ bytes: [UInt8], width: Int) -> [TrackerPeer] {
        let size = width + 2
        var peers: [TrackerPeer] = []
        var offset = 0
        while offset + size <= bytes.count, peers.count < maxEntries {
            let port = UInt16(bytes[offset + width]) << 8 | UInt16(bytes[offset + width + 1])
            if port != 0 { peers.append(TrackerPeer(ip: Array(bytes[offset..<offset + width]), port: port)) }
            offset += size
        }
        return peers
    }

    /// The extended message's payload (IPv6 lists only when there are IPv6 peers).
    public func encoded() -> [UInt8] {
        let v4 = added.filter { $0.peer.ip.count == 4 }, v6 = added.filter { $0.peer.ip.count == 16 }
        var members: [(String, BencodeValue)] = [
            ("added", .bytes(v4.flatMap(\.peer.compact))), ("added.f", .bytes(v4.map(\.flags.rawValue))),
            ("dropped", .bytes(dropped.filter { $0.ip.count == 4 }.flatMap(\.compact))),
        ]
        if !v6.isEmpty {
            members += [("added6", .bytes(v6.flatMap(\.peer.compact))), ("added6.f", .bytes(v6.map(\.flags.rawValue)))]
        }
        let dropped6 = dropped.filter { $0.ip.count == 16 }
        if !dropped6.isEmpty { members.append(("dropped6", .bytes(dropped6.flatMap(\.compact)))) }
        return Bencode.encode(.dictionary(BencodeDictionary(members)))
    }
}

/// Peer exchange with one peer, with no I/O: what we told it so far, when, and whether what it
/// sends comes too often. A message goes at most once a minute (libtorrent drops a peer that
/// sends more often), with at most 50 added and 50 dropped after the first, never empty, never
/// the same peer twice or added and dropped at once.
public struct PexState: Sendable {
    /// The least time between two messages either way.
    public static let interval: Duration = .seconds(60)
    /// Messages from a peer closer together than this are ignored (some clients' timers drift).
    public static let minimumReceiveGap: Duration = .seconds(45)
    /// Added (and dropped) entries per message after the first.
    public static let maxPerMessage = 50
    /// Added entries in the first message.
    public static let maxFirst = 100

    private var advertised: [TrackerPeer: PexMessage.Flags] = [:]
    private var lastSent: ContinuousClock.Instant?
    private var lastReceived: ContinuousClock.Instant?

    public init() {}

    /// Whether a message may go now (a minute since the last).
    public func isDue(now: ContinuousClock.Instant) -> Bool { lastSent.map { now - $0 >= Self.interval } ?? true }

    /// The message to send now, given the peers the torrent has (the recipient left out by the
    /// caller); nil when it is too soon or nothing changed.
    public mutating func message(current: [PexMessage.Entry], now: ContinuousClock.Instant) -> PexMessage? {
        guard isDue(now: now) else { return nil }
        let first = lastSent == nil
        var now_ = [TrackerPeer: PexMessage.Flags]()
        for entry in current where now_[entry.peer] == nil { now_[entry.peer] = entry.flags }
        let limit = first ? Self.maxFirst : Self.maxPerMessage
        var added: [PexMessage.Entry] = []
        for entry in current where advertised[entry.peer] == nil && added.count < limit && !added.contains(where: { $0.peer == entry.peer }) {
            added.append(entry)
        }
        let dropped = Array(advertised.keys.filter { now_[$0] == nil }.sorted { $0.compact.lexicographicallyPrecedes($1.compact) }.prefix(Self.maxPerMessage))
        guard !added.isEmpty || !dropped.isEmpty else { return nil }
        for entry in added { advertised[entry.peer] = entry.flags }
        for peer in dropped { advertised.removeValue(forKey: peer) }
        lastSent = now
        return PexMessage(added: added, dropped: dropped)
    }

    /// A message arrived: whether to take it (false: it came too soon after the last one).
    public mutating func accept(now: ContinuousClock.Instant) -> Bool {
        if let lastReceived, now - lastReceived < Self.minimumReceiveGap { return false }
        lastReceived = now
        return true
    }
}
