/// One peer as the choker sees it: a value snapshot, no connection.
public struct ChokeCandidate: Equatable, Sendable {
    /// The caller's key for the peer.
    public let id: Int
    /// Whether the peer wants data.
    public var isInterested: Bool
    /// Whether we unchoke it now.
    public var isUnchoked: Bool
    /// When its current unchoke began (nil if choked).
    public var unchokedSince: ContinuousClock.Instant?
    /// When it was last choked or first seen: how long it has waited.
    public var waitingSince: ContinuousClock.Instant
    /// What we sent it recently, bytes per second.
    public var uploadRate: Int
    /// Its progress, 0...1 (for anti-leech).
    public var progress: Double
    /// What it sent us recently, bytes per second (for tit-for-tat while downloading).
    public var downloadRate: Int

    /// A candidate snapshot.
    public init(
        id: Int, isInterested: Bool, isUnchoked: Bool, unchokedSince: ContinuousClock.Instant?,
        waitingSince: ContinuousClock.Instant, uploadRate: Int = 0, progress: Double = 0, downloadRate: Int = 0
    ) {
        self.id = id
        self.isInterested = isInterested
        self.isUnchoked = isUnchoked
        self.unchokedSince = unchokedSince
        self.waitingSince = waitingSince
        self.uploadRate = uploadRate
        self.progress = progress
        self.downloadRate = downloadRate
    }
}

/// How a seeder picks whom to serve.
public enum SeedChokingAlgorithm: String, Sendable, CaseIterable {
    /// libtorrent's seeding default: rotate slots so every interested peer gets served; a peer
    /// keeps its slot for one turn, then goes to the back of the line.
    case roundRobin = "round-robin"
    /// Serve the peers that take data fastest.
    case fastestUpload = "fastest-upload"
    /// Prefer peers that have just started or are nearly done over those in the middle.
    case antiLeech = "anti-leech"
    /// While downloading (BEP 3, mainline's Choker): reciprocate, serving the peers that send us
    /// data fastest; the optimistic slot lets newcomers prove themselves.
    case titForTat = "tit-for-tat"
}

/// The seeding choker (BEP 3's choking, libtorrent's seeding algorithms): a function from a
/// snapshot of peers to the set to unchoke. Rechoke every 10 s; the optimistic slot moves every 30 s.
public struct Choker: Sendable {
    /// Regular unchoke slots; nil unchokes every interested peer.
    public var slots: Int?
    /// The ranking used to fill the regular slots.
    public var algorithm: SeedChokingAlgorithm
    /// How long a round-robin turn lasts.
    public var turn: Duration = .seconds(30)
    /// How often the optimistic unchoke moves.
    public var optimisticInterval: Duration = .seconds(30)
    /// How often the caller should rechoke.
    public static let rechokeInterval: Duration = .seconds(10)
    private var optimistic: Int?
    private var optimisticSince: ContinuousClock.Instant?

    /// A choker with `slots` regular slots (nil: unlimited) and `algorithm`.
    public init(slots: Int?, algorithm: SeedChokingAlgorithm = .roundRobin) {
        self.slots = slots
        self.algorithm = algorithm
    }

    /// The peers to unchoke now; every other peer is choked.
    public mutating func rechoke(
        _ peers: [ChokeCandidate], now: ContinuousClock.Instant, random: inout some RandomNumberGenerator
    ) -> Set<Int> {
        let interested = peers.filter(\.isInterested)
        guard let slots else { return Set(interested.map(\.id)) }
        let ranked = rank(interested, now: now)
        var unchoked = Set(ranked.prefix(slots).map(\.id))
        // One optimistic slot on top, for a choked interested peer picked at random.
        let waiting = interested.filter { !unchoked.contains($0.id) }
        let current = optimistic.flatMap { id in waiting.first { $0.id == id } }
        if let current, let since = optimisticSince, now - since < optimisticInterval {
            unchoked.insert(current.id)
        } else if let pick = waiting.randomElement(using: &random) {
            optimistic = pick.id
            optimisticSince = now
            unchoked.insert(pick.id)
        } else {
            optimistic = nil
        }
        return unchoked
    }

    private func rank(_ peers: [ChokeCandidate], now: ContinuousClock.Instant) -> [ChokeCandidate] {
        switch algorithm {
        case .titForTat:
            return peers.sorted { ($0.downloadRate, $1.waitingSince) > ($1.downloadRate, $0.waitingSince) }
        case .fastestUpload:
            return peers.sorted { ($0.uploadRate, $1.waitingSince) > ($1.uploadRate, $0.waitingSince) }
        case .antiLeech:
            // Distance from half done: new and nearly finished peers first.
            return peers.sorted {
                (abs($0.progress - 0.5), $0.uploadRate) > (abs($1.progress - 0.5), $1.uploadRate)
            }
        case .roundRobin:
            // Peers mid-turn keep their slot; then whoever has waited longest; spent turns last.
            func tier(_ peer: ChokeCandidate) -> Int {
                guard peer.isUnchoked, let since = peer.unchokedSince else { return 1 }
                return now - since < turn ? 0 : 2
            }
            return peers.sorted { lhs, rhs in
                let (left, right) = (tier(lhs), tier(rhs))
                if left != right { return left < right }
                if left == 2 { return (lhs.unchokedSince ?? now) < (rhs.unchokedSince ?? now) }
                return lhs.waitingSince < rhs.waitingSince
            }
        }
    }
}
