/// The embedded tracker's memory of who is in each swarm: peers announce, are handed each other,
/// and are forgotten after a missed interval.
///
/// Every announce and scrape costs O(numwant), not O(swarm): a swarm keeps its peers in an array
/// with an index by peer id (removal swaps the last one in), counts its seeds as they change, and
/// answers with a random sample drawn by index. Expiry walks a swarm at most every eighth of an
/// interval (a peer may outlive its 1.5 intervals by that much). Swarms and peers are capped, an
/// emptied swarm is dropped at once, and `sweep` frees what expired everywhere.
public struct SwarmRegistry: Sendable {
    private struct Entry: Sendable {
        var peerID: [UInt8]
        var peer: TrackerPeer
        var isSeed: Bool
        var lastSeen: ContinuousClock.Instant
    }

    private struct Swarm: Sendable {
        var entries: [Entry] = []
        var positions: [[UInt8]: Int] = [:]
        var seeds = 0
        var completed = 0
        var nextExpiry: ContinuousClock.Instant

        mutating func upsert(_ entry: Entry) {
            if let position = positions[entry.peerID] {
                if entries[position].isSeed { seeds -= 1 }
                entries[position] = entry
            } else {
                positions[entry.peerID] = entries.count
                entries.append(entry)
            }
            if entry.isSeed { seeds += 1 }
        }

        mutating func remove(_ peerID: [UInt8]) {
            guard let position = positions.removeValue(forKey: peerID) else { return }
            if entries[position].isSeed { seeds -= 1 }
            let last = entries.removeLast()
            if position < entries.count {
                entries[position] = last
                positions[last.peerID] = position
            }
        }

        mutating func expire(olderThan limit: ContinuousClock.Instant) {
            var index = 0
            while index < entries.count {
                if entries[index].lastSeen < limit { remove(entries[index].peerID) } else { index += 1 }
            }
        }
    }

    private var swarms: [InfoHash: Swarm] = [:]
    /// The announce interval told to clients.
    public let interval: Duration
    /// Peers kept per torrent.
    public let maxPeersPerTorrent: Int
    /// Swarms kept at once (an open tracker: a flood of made-up info hashes stops here).
    public let maxTorrents: Int
    /// Torrents tracked; nil allows any (an open tracker), else only these.
    public var allowed: Set<InfoHash>?

    /// A registry telling clients to announce every `interval`.
    public init(interval: Duration = .seconds(1800), maxPeersPerTorrent: Int = 5000, maxTorrents: Int = 100_000, allowed: Set<InfoHash>? = nil) {
        self.interval = interval
        self.maxPeersPerTorrent = maxPeersPerTorrent
        self.maxTorrents = maxTorrents
        self.allowed = allowed
    }

    /// How many swarms are kept.
    public var swarmCount: Int { swarms.count }

    /// Records `request` from a peer at `ip` and returns the answer; nil for a torrent not
    /// allowed, or a new one when `maxTorrents` swarms are kept already.
    public mutating func announce(
        _ request: AnnounceRequest, ip: [UInt8], now: ContinuousClock.Instant, random: inout some RandomNumberGenerator
    ) -> AnnounceResponse? {
        if let allowed, !allowed.contains(request.infoHash) { return nil }
        guard swarms[request.infoHash] != nil || (request.event != .stopped && swarms.count < maxTorrents) else {
            if request.event == .stopped { return response(Swarm(nextExpiry: now), peers: []) }
            return nil
        }
        var swarm = swarms.removeValue(forKey: request.infoHash) ?? newSwarm(now)
        expireIfDue(&swarm, now: now)
        if request.event == .stopped {
            swarm.remove(request.peerID)
        } else if swarm.positions[request.peerID] != nil || swarm.entries.count < maxPeersPerTorrent {
            swarm.upsert(Entry(peerID: request.peerID, peer: TrackerPeer(ip: ip, port: request.port), isSeed: request.left == 0, lastSeen: now))
        }
        if request.event == .completed { swarm.completed += 1 }
        // A seed gets no seeds back: they have nothing for each other. But a first announce with
        // nothing left may be a magnet client that does not know the size yet (aria2 says
        // left=0 before it has the metadata): it gets everyone.
        let leechersOnly = request.left == 0 && request.event != .started
        let peers = request.event == .stopped ? [] : Self.sample(swarm, count: request.numwant, excluding: request.peerID, leechersOnly: leechersOnly, random: &random)
        let answer = response(swarm, peers: peers)
        if isWorthKeeping(swarm) { swarms[request.infoHash] = swarm }
        return answer
    }

    /// Scrape counts (BEP 48) for `infoHash`: seeds, leechers, completed downloads.
    public mutating func scrape(_ infoHash: InfoHash, now: ContinuousClock.Instant) -> (complete: Int, incomplete: Int, downloaded: Int)? {
        if let allowed, !allowed.contains(infoHash) { return nil }
        guard var swarm = swarms[infoHash] else { return (0, 0, 0) }
        expireIfDue(&swarm, now: now)
        swarms[infoHash] = swarm
        return (swarm.seeds, swarm.entries.count - swarm.seeds, swarm.completed)
    }

    /// Adds a peer directly (the seeder registering itself with its own tracker).
    public mutating func register(_ infoHash: InfoHash, peerID: [UInt8], peer: TrackerPeer, isSeed: Bool, now: ContinuousClock.Instant) {
        let fresh = newSwarm(now)
        swarms[infoHash, default: fresh].upsert(Entry(peerID: peerID, peer: peer, isSeed: isSeed, lastSeen: now))
    }

    /// Forgets every expired peer and every emptied swarm, and gives unused table space back:
    /// for a timer (the embedded tracker's runs each minute).
    public mutating func sweep(now: ContinuousClock.Instant) {
        var kept: [InfoHash: Swarm] = [:]
        kept.reserveCapacity(swarms.count)
        for (hash, var swarm) in swarms {
            expire(&swarm, now: now)
            if isWorthKeeping(swarm) { kept[hash] = swarm }
        }
        swarms = kept
    }

    private func newSwarm(_ now: ContinuousClock.Instant) -> Swarm { Swarm(nextExpiry: now + interval / 8) }

    /// A swarm with peers; or, on a tracker of chosen torrents, one whose completions are worth
    /// keeping for scrapes.
    private func isWorthKeeping(_ swarm: Swarm) -> Bool { !swarm.entries.isEmpty || swarm.completed > 0 && allowed != nil }

    /// Forgets the peers not heard from within 1.5 intervals; the next walk is due an eighth of
    /// an interval on.
    private func expire(_ swarm: inout Swarm, now: ContinuousClock.Instant) {
        swarm.expire(olderThan: now - (interval + interval / 2))
        swarm.nextExpiry = now + interval / 8
    }

    private func expireIfDue(_ swarm: inout Swarm, now: ContinuousClock.Instant) {
        if now >= swarm.nextExpiry { expire(&swarm, now: now) }
    }

    private func response(_ swarm: Swarm, peers: [TrackerPeer]) -> AnnounceResponse {
        var response = AnnounceResponse(
            interval: Int(interval.components.seconds), peers: peers, complete: swarm.seeds, incomplete: swarm.entries.count - swarm.seeds)
        response.minInterval = 30
        return response
    }

    /// Up to `count` peers other than `excluded`, at random, by drawing positions: about `count`
    /// draws whatever the swarm's size. A small swarm is walked whole instead.
    private static func sample(
        _ swarm: Swarm, count: Int, excluding excluded: [UInt8], leechersOnly: Bool, random: inout some RandomNumberGenerator
    ) -> [TrackerPeer] {
        let wanted = min(count, swarm.entries.count)
        guard wanted > 0 else { return [] }
        func fits(_ entry: Entry) -> Bool { entry.peerID != excluded && !(leechersOnly && entry.isSeed) }
        if swarm.entries.count <= 2 * wanted + 8 {
            return Array(swarm.entries.filter(fits).shuffled(using: &random).prefix(wanted).map(\.peer))
        }
        var chosen = Set<Int>()
        var peers: [TrackerPeer] = []
        var draws = 0
        while peers.count < wanted && draws < 4 * wanted + 16 {
            draws += 1
            let position = Int.random(in: 0..<swarm.entries.count, using: &random)
            guard chosen.insert(position).inserted, fits(swarm.entries[position]) else { continue }
            peers.append(swarm.entries[position].peer)
        }
        return peers
    }
}
