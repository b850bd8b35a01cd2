/// A choke decision for one peer.
public enum ChokeAction: Equatable, Sendable {
    /// Stop serving the peer.
    case choke(PeerKey)
    /// Serve the peer.
    case unchoke(PeerKey)
}

/// What the choker needs of a peer at a rechoke, measured by the caller over the last round.
public struct ChokeRates: Sendable {
    /// Payload bytes we sent it since the last rechoke.
    public var uploaded: Int64
    /// Payload bytes it sent us since the last rechoke.
    public var downloaded: Int64
    /// The share of the torrent it has, 0...1.
    public var progress: Double

    /// The rates for one peer.
    public init(uploaded: Int64, downloaded: Int64, progress: Double) {
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.progress = progress
    }
}

/// The choke bookkeeping of one torrent around its `Choker`: who is interested and unchoked, since
/// when, and the two moments a decision is made — a rechoke round every `Choker.rechokeInterval`,
/// and at once when a peer becomes interested while a slot is free (so a new peer does not wait up
/// to ten seconds for its first byte). Counts are kept as they change, never recounted.
public struct ChokeState {
    private struct Entry {
        var interested = false
        var unchoked = false
        var unchokedSince: ContinuousClock.Instant?
        var waitingSince: ContinuousClock.Instant
        /// Only interested peers can be unchoked and only unchoked ones choked.
        var isCandidate: Bool { interested || unchoked }
    }

    /// The choker that ranks peers at each round.
    public private(set) var choker: Choker
    private var peers: [PeerKey: Entry] = [:]
    /// Peers that want data.
    public private(set) var interestedCount = 0
    /// Peers being served.
    public private(set) var unchokedCount = 0

    /// Bookkeeping for `choker`, with no peers.
    public init(choker: Choker) { self.choker = choker }

    /// Ranks peers with another choker from the next decision on (the download ended).
    public mutating func replaceChoker(_ choker: Choker) { self.choker = choker }

    /// Whether `peer` is being served.
    public func isUnchoked(_ peer: PeerKey) -> Bool { peers[peer]?.unchoked ?? false }

    /// A peer finished its handshake: choked, not interested.
    public mutating func peerJoined(_ peer: PeerKey, now: ContinuousClock.Instant) {
        peers[peer] = Entry(waitingSince: now)
    }

    /// A peer left.
    public mutating func peerLeft(_ peer: PeerKey) {
        guard let entry = peers.removeValue(forKey: peer) else { return }
        if entry.interested { interestedCount -= 1 }
        if entry.unchoked { unchokedCount -= 1 }
    }

    /// A peer said Interested or NotInterested: unchoked at once if a slot is free, choked once
    /// it no longer wants anything.
    public mutating func interestChanged(_ peer: PeerKey, interested: Bool, now: ContinuousClock.Instant) -> [ChokeAction] {
        guard var entry = peers[peer], entry.interested != interested else { return [] }
        entry.interested = interested
        interestedCount += interested ? 1 : -1
        peers[peer] = entry
        if interested {
            if let slots = choker.slots, unchokedCount >= slots { return [] }
            return set(peer, unchoked: true, now: now)
        }
        return entry.unchoked ? set(peer, unchoked: false, now: now) : []
    }

    /// Whether `peer` takes part in the next rechoke (interested or unchoked): the caller needs
    /// its rates only then.
    public func isCandidate(_ peer: PeerKey) -> Bool {
        peers[peer]?.isCandidate ?? false
    }

    /// A rechoke round: the choker ranks every candidate on `rates` (a peer missing there counts
    /// as idle), and whoever changes side is choked or unchoked.
    public mutating func rechoke(
        rates: [PeerKey: ChokeRates], now: ContinuousClock.Instant, random: inout some RandomNumberGenerator
    ) -> [ChokeAction] {
        let seconds = max(1, Int(Choker.rechokeInterval.components.seconds))
        // Only interested peers can be unchoked and only unchoked ones choked: the rest (most of
        // 19,000 idle peers) would be candidates built and dropped every rechoke.
        var keys: [PeerKey] = []
        for (key, entry) in peers where entry.isCandidate { keys.append(key) }
        keys.sort()
        let candidates = keys.map { key in
            let entry = peers[key]!
            let rate = rates[key] ?? ChokeRates(uploaded: 0, downloaded: 0, progress: 0)
            return ChokeCandidate(
                id: key.value, isInterested: entry.interested, isUnchoked: entry.unchoked,
                unchokedSince: entry.unchokedSince, waitingSince: entry.waitingSince,
                uploadRate: Int(rate.uploaded / Int64(seconds)), progress: rate.progress,
                downloadRate: Int(rate.downloaded / Int64(seconds)))
        }
        let unchoke = choker.rechoke(candidates, now: now, random: &random)
        var actions: [ChokeAction] = []
        for key in keys {
            let on = unchoke.contains(key.value)
            if on != peers[key]!.unchoked { actions += set(key, unchoked: on, now: now) }
        }
        return actions
    }

    private mutating func set(_ peer: PeerKey, unchoked: Bool, now: ContinuousClock.Instant) -> [ChokeAction] {
        peers[peer]!.unchoked = unchoked
        unchokedCount += unchoked ? 1 : -1
        if unchoked {
            peers[peer]!.unchokedSince = now
            return [.unchoke(peer)]
        }
        peers[peer]!.unchokedSince = nil
        peers[peer]!.waitingSince = now
        return [.choke(peer)]
    }
}
