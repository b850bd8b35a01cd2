/// Where a peer address came from (a set: one address can come from several sources).
public struct PeerSource: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A tracker's announce answer (or the embedded tracker's announce from it).
    public static let tracker = PeerSource(rawValue: 1 << 0)
    /// Given by hand (`--peer`, the RPC).
    public static let manual = PeerSource(rawValue: 1 << 1)
    /// Peer exchange (BEP 11).
    public static let pex = PeerSource(rawValue: 1 << 2)
    /// The DHT (BEP 5).
    public static let dht = PeerSource(rawValue: 1 << 3)
    /// Local service discovery (BEP 14).
    public static let lsd = PeerSource(rawValue: 1 << 4)
    /// It connected to us.
    public static let incoming = PeerSource(rawValue: 1 << 5)
}

/// The peers one torrent knows of and may connect to (libtorrent's `peer_list`), with no I/O:
/// every source adds addresses; the session asks for the next candidates to dial within its
/// global budget; a failed attempt backs off (30 s, doubling to 30 min) and an address that never
/// answers is forgotten after a few tries. Addresses are host:port strings; time is passed in.
public struct PeerList {
    /// Addresses kept at most; new ones beyond it are ignored (a hostile source cannot grow it).
    public static let capacity = 4_000
    /// Failed attempts after which an address is forgotten (manual peers are kept).
    public static let maxFailures = 5
    /// The first retry delay; it doubles with each failure.
    public static let baseBackoff: Duration = .seconds(30)
    /// The longest retry delay.
    public static let maxBackoff: Duration = .seconds(1800)

    private struct Candidate {
        var sources: PeerSource
        var failures = 0
        var retryAt: ContinuousClock.Instant?
        var connected = false
        var inFlight = false
    }

    private var candidates: [String: Candidate] = [:]
    /// Order of arrival, for fair turns; compacted as addresses go.
    private var order: [String] = []
    private var cursor = 0

    /// An empty list.
    public init() {}

    /// Addresses known.
    public var count: Int { candidates.count }

    /// Whether `address` is known.
    public func contains(_ address: String) -> Bool { candidates[address] != nil }

    /// The sources `address` came from.
    public func sources(of address: String) -> PeerSource? { candidates[address]?.sources }

    /// Adds addresses from `source`; returns how many were new.
    @discardableResult
    public mutating func add(_ addresses: [String], from source: PeerSource) -> Int {
        var added = 0
        for address in addresses {
            if candidates[address] != nil {
                candidates[address]!.sources.formUnion(source)
                // A source naming it again makes a manual peer worth trying at once.
                if source.contains(.manual) { candidates[address]!.retryAt = nil }
                continue
            }
            guard candidates.count < Self.capacity else { break }
            candidates[address] = Candidate(sources: source)
            order.append(address)
            added += 1
        }
        return added
    }

    /// Up to `limit` addresses to dial now: not connected, not being dialled, and past their
    /// backoff; taken in turn so every address gets its chance. Each is marked in flight.
    public mutating func nextCandidates(_ limit: Int, now: ContinuousClock.Instant) -> [String] {
        guard limit > 0, !order.isEmpty else { return [] }
        var picked: [String] = []
        var looked = 0
        while picked.count < limit, looked < order.count {
            if cursor >= order.count { cursor = 0 }
            let address = order[cursor]
            cursor += 1
            looked += 1
            guard var candidate = candidates[address], !candidate.connected, !candidate.inFlight else { continue }
            if let retryAt = candidate.retryAt, retryAt > now { continue }
            candidate.inFlight = true
            candidates[address] = candidate
            picked.append(address)
        }
        return picked
    }

    /// The attempt to `address` failed (refused, timed out): it waits longer before the next.
    /// Returns whether the address was forgotten.
    @discardableResult
    public mutating func attemptFailed(_ address: String, now: ContinuousClock.Instant) -> Bool {
        guard var candidate = candidates[address] else { return false }
        candidate.inFlight = false
        candidate.failures += 1
        if candidate.failures >= Self.maxFailures && !candidate.sources.contains(.manual) {
            forget(address)
            return true
        }
        candidate.retryAt = now + backoff(candidate.failures)
        candidates[address] = candidate
        return false
    }

    /// A connection to or from `address` is up.
    public mutating func connected(_ address: String) {
        if candidates[address] == nil { add([address], from: .incoming) }
        candidates[address]?.connected = true
        candidates[address]?.inFlight = false
        candidates[address]?.failures = 0
    }

    /// The connection to `address` ended; it may be dialled again after the base backoff.
    public mutating func disconnected(_ address: String, now: ContinuousClock.Instant) {
        guard candidates[address] != nil else { return }
        candidates[address]!.connected = false
        candidates[address]!.inFlight = false
        candidates[address]!.retryAt = now + Self.baseBackoff
    }

    /// The connection to or the dial of `address` ended on our side, to be made again at once
    /// (a magnet's fetch handed its peers to the torrent).
    public mutating func release(_ address: String) {
        guard candidates[address] != nil else { return }
        candidates[address]!.connected = false
        candidates[address]!.inFlight = false
        candidates[address]!.retryAt = nil
    }

    /// Drops `address` for good (banned, or it was us).
    public mutating func forget(_ address: String) {
        guard candidates.removeValue(forKey: address) != nil else { return }
        if let index = order.firstIndex(of: address) {
            order.remove(at: index)
            if cursor > index { cursor -= 1 }
        }
    }

    private func backoff(_ failures: Int) -> Duration {
        var delay = Self.baseBackoff
        for _ in 1..<max(1, failures) where delay < Self.maxBackoff { delay = delay * 2 }
        return min(delay, Self.maxBackoff)
    }
}
