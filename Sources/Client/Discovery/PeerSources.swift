import Reactor
import TorrentCore

/// Where one torrent's peers come from: its trackers (announcing `started`, `completed` and
/// `stopped`), peers given by hand, and the session's embedded tracker; later PEX, LSD and the
/// DHT. Every source feeds one `PeerList`; the session dials from it within its global budget.
final class PeerSources {
    /// Every address known, with backoff.
    private(set) var list = PeerList()
    private var announcer: TrackerAnnouncer?
    private let manual: [SocketAddress]
    private var addresses: [String: SocketAddress] = [:]

    init(manual: [SocketAddress]) {
        self.manual = manual
        retryManual()
    }

    /// Whether any source may still name peers, or the list has addresses to dial.
    var hasCandidates: Bool { list.count > 0 }

    /// Told when a source named new peers.
    var found: () -> Void = {}

    /// Whether trackers are being announced to.
    var isAnnouncing: Bool { announcer != nil }

    /// Starts announcing to `tiers` through `trackers`; answers go into the list and `found` hears of them.
    func startAnnouncing(_ announcer: TrackerAnnouncer, found: @escaping () -> Void) {
        self.announcer = announcer
        self.found = found
        announcer.peersFound = { [weak self] peers in
            guard let self else { return }
            self.add(peers, from: .tracker)
            self.found()
        }
        announcer.start()
    }

    /// Passes the sources to a new owner (a magnet's fetch becoming its torrent): announces
    /// report `totals` and new peers go to `found`.
    func handOver(totals: @escaping () -> (uploaded: Int64, downloaded: Int64, left: Int64), found: @escaping () -> Void) {
        announcer?.totals = totals
        self.found = found
    }

    /// Adds addresses a source named.
    func add(_ peers: [SocketAddress], from source: PeerSource) {
        for peer in peers { addresses[peer.description] = peer }
        list.add(peers.map(\.description), from: source)
    }

    /// Names the hand-given peers again: they are dialled at once if not connected.
    func retryManual() {
        // Their addresses too: a forgotten peer (a seed dropped when we were done) had lost it,
        // and a candidate without one was never dialled.
        for address in manual { addresses[address.description] = address }
        list.add(manual.map(\.description), from: .manual)
    }

    /// Up to `limit` addresses to dial now.
    func nextCandidates(_ limit: Int, now: ContinuousClock.Instant) -> [SocketAddress] {
        list.nextCandidates(limit, now: now).compactMap { addresses[$0] }
    }

    /// A dial to `address` failed.
    func attemptFailed(_ address: SocketAddress, now: ContinuousClock.Instant) {
        if list.attemptFailed(address.description, now: now) { addresses.removeValue(forKey: address.description) }
    }

    /// A connection to `address` was closed by us to be made again at once (its owner changed).
    func release(_ address: SocketAddress) { list.release(address.description) }

    /// A dialled peer finished its handshake.
    func connected(_ address: SocketAddress) {
        if list.contains(address.description) { list.connected(address.description) }
    }

    /// A dialled peer left; with `forget` (banned, a seed like us, ourselves) it is not dialled again.
    func disconnected(_ address: SocketAddress, forget: Bool, now: ContinuousClock.Instant) {
        guard list.contains(address.description) else { return }
        if forget {
            list.forget(address.description)
            addresses.removeValue(forKey: address.description)
        } else {
            list.disconnected(address.description, now: now)
        }
    }

    /// Announces to the trackers now.
    func reannounce() { announcer?.reannounce() }

    /// Tells the trackers the download completed.
    func completed() { announcer?.completed() }

    /// Tells the trackers we stopped (waiting at most a few seconds), then calls `completion`.
    func stop(completion: @escaping () -> Void) {
        guard let announcer else {
            completion()
            return
        }
        self.announcer = nil
        announcer.stop(completion: completion)
    }
}

@available(*, unavailable)
extension PeerSources: Sendable {}
