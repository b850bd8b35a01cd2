/// The embedded tracker's memory of who is in each swarm: peers announce, are handed each other,
/// and are forgotten after a missed interval. Capped per torrent so a flood cannot grow it without bound.
public struct SwarmRegistry: Sendable {
    private struct Entry: Sendable {
        var peer: TrackerPeer
        var isSeed: Bool
        var lastSeen: ContinuousClock.Instant
    }

    private var swarms: [InfoHash: [[UInt8]: Entry]] = [:]
    private var completed: [InfoHash: Int] = [:]
    /// The announce interval told to clients.
    public let interval: Duration
    /// Peers kept per torrent.
    public let maxPeersPerTorrent: Int
    /// Torrents tracked; nil allows any (an open tracker), else only these.
    public var allowed: Set<InfoHash>?

    /// A registry telling clients to announce every `interval`.
    public init(interval: Duration = .seconds(1800), maxPeersPerTorrent: Int = 5000, allowed: Set<InfoHash>? = nil) {
        self.interval = interval
        self.maxPeersPerTorrent = maxPeersPerTorrent
        self.allowed = allowed
    }

    /// Records `request` from a peer at `ip` and returns the answer.
    public mutating func announce(
        _ request: AnnounceRequest, ip: [UInt8], now: ContinuousClock.Instant, random: inout some RandomNumberGenerator
    ) -> AnnounceResponse? {
        if let allowed, !allowed.contains(request.infoHash) { return nil }
        expire(request.infoHash, now: now)
        var swarm = swarms[request.infoHash] ?? [:]
        if request.event == .stopped {
            swarm[request.peerID] = nil
        } else if swarm[request.peerID] != nil || swarm.count < maxPeersPerTorrent {
            swarm[request.peerID] = Entry(peer: TrackerPeer(ip: ip, port: request.port), isSeed: request.left == 0, lastSeen: now)
        }
        if request.event == .completed { completed[request.infoHash, default: 0] += 1 }
        swarms[request.infoHash] = swarm
        let others = swarm.filter { $0.key != request.peerID }.values
        // A seed gets no seeds back: they have nothing for each other. But a first announce with
        // nothing left may be a magnet client that does not know the size yet (aria2 says
        // left=0 before it has the metadata): it gets everyone.
        let useful = request.left == 0 && request.event != .started ? others.filter { !$0.isSeed } : Array(others)
        let peers = Array(useful.shuffled(using: &random).prefix(request.numwant).map(\.peer))
        let seeds = swarm.values.filter(\.isSeed).count
        var response = AnnounceResponse(
            interval: Int(interval.components.seconds), peers: peers, complete: seeds, incomplete: swarm.count - seeds)
        response.minInterval = 30
        return response
    }

    /// Scrape counts (BEP 48) for `infoHash`: seeds, leechers, completed downloads.
    public mutating func scrape(_ infoHash: InfoHash, now: ContinuousClock.Instant) -> (complete: Int, incomplete: Int, downloaded: Int)? {
        if let allowed, !allowed.contains(infoHash) { return nil }
        expire(infoHash, now: now)
        let swarm = swarms[infoHash] ?? [:]
        let seeds = swarm.values.filter(\.isSeed).count
        return (seeds, swarm.count - seeds, completed[infoHash] ?? 0)
    }

    /// Adds a peer directly (the seeder registering itself with its own tracker).
    public mutating func register(_ infoHash: InfoHash, peerID: [UInt8], peer: TrackerPeer, isSeed: Bool, now: ContinuousClock.Instant) {
        swarms[infoHash, default: [:]][peerID] = Entry(peer: peer, isSeed: isSeed, lastSeen: now)
    }

    /// Peers not heard from within 1.5 intervals are gone.
    private mutating func expire(_ infoHash: InfoHash, now: ContinuousClock.Instant) {
        guard var swarm = swarms[infoHash] else { return }
        let limit = interval + interval / 2
        swarm = swarm.filter { now - $0.value.lastSeen <= limit }
        swarms[infoHash] = swarm
    }
}
