import Reactor
import TorrentCore

/// Announces one torrent to its HTTP(S) and UDP (BEP 15) trackers: `started` at once, again on
/// the tracker's interval, `stopped` at shutdown. Tiers are tried in order (BEP 12); within a tier
/// the first tracker that answers moves to the front.
public final class TrackerAnnouncer {
    private unowned let loop: EventLoop
    private let http: HTTPClient
    private let udp: UDPTrackerClient?
    /// The session's pace: each announce waits for its turn (nil: sent at once).
    private let pace: AnnounceScheduler?
    private var tiers: [[String]]
    private let infoHash: InfoHash
    private let peerID: [UInt8]
    private let port: UInt16
    private let log: Log
    /// Transfer counters, asked at each announce (the owner may change: a magnet becomes a torrent).
    var totals: () -> (uploaded: Int64, downloaded: Int64, left: Int64)
    private var timer: TimerHandle?
    private var failures = 0
    /// Jitter, the key and the tiers' order; seeded by the owner (one system call per announcer
    /// cost a daemon starting thousands of torrents a fifth of attaching them).
    private var random: SplitMix64
    private let key: String
    private var trackerID: String?
    /// Told of the peers each answer names.
    public var peersFound: (([SocketAddress]) -> Void)?
    /// The last successful answer.
    public private(set) var lastResponse: AnnounceResponse?

    /// An announcer for `infoHash` to `tiers`; `totals` reports transfer counters when asked.
    public init(
        loop: EventLoop, http: HTTPClient, udp: UDPTrackerClient? = nil, pace: AnnounceScheduler? = nil, tiers: [[String]],
        infoHash: InfoHash, peerID: [UInt8], port: UInt16, log: Log, seed: UInt64 = .random(in: .min ... .max),
        totals: @escaping () -> (uploaded: Int64, downloaded: Int64, left: Int64)
    ) {
        var random = SplitMix64(seed: seed)
        key = String(UInt32.random(in: 0...UInt32.max, using: &random), radix: 16)
        self.tiers = tiers.map { $0.shuffled(using: &random) }
        self.random = random
        self.loop = loop
        self.http = http
        self.udp = udp
        self.pace = pace
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.log = log
        self.totals = totals
    }

    /// Sends `started` and keeps announcing.
    public func start() { announce(.started) }

    /// Announces now instead of at the next interval (a user asked for more peers).
    public func reannounce() {
        timer?.cancel()
        announce(.none)
    }

    /// Sends `completed` (once, when the download finishes) and keeps announcing.
    public func completed() {
        timer?.cancel()
        announce(.completed)
    }

    /// Sends `stopped` (waiting at most `timeout`), then calls `completion`. The announcer keeps
    /// itself alive until then: its owner (a removed torrent) may let go of it at once.
    public func stop(timeout: Duration = .seconds(3), completion: @escaping () -> Void) {
        timer?.cancel()
        var done = false
        var keepAlive: TrackerAnnouncer? = self
        let finish = {
            guard !done else { return }
            done = true
            if keepAlive != nil { keepAlive = nil }
            completion()
        }
        loop.schedule(after: timeout, finish)
        send(.stopped, candidates: urls()) { _ in finish() }
    }

    private func urls() -> [(tier: Int, index: Int, url: String)] {
        tiers.enumerated().flatMap { tier, urls in urls.enumerated().map { (tier, $0.offset, $0.element) } }
            .filter {
                let url = $0.url.lowercased()
                return url.hasPrefix("http://") || url.hasPrefix("https://") || (udp != nil && url.hasPrefix("udp://"))
            }
    }

    private func announce(_ event: AnnounceEvent) {
        let candidates = urls()
        if candidates.isEmpty {
            log.warn("no_usable_tracker", [("detail", "no http://, https:// or udp:// tracker")])
            return
        }
        send(event, candidates: candidates) { [weak self] response in
            guard let self else { return }
            let seconds: Int
            if let response {
                self.failures = 0
                seconds = max(response.minInterval ?? 60, min(response.interval, 3600))
            } else {
                self.failures += 1
                seconds = min(60 * (1 << min(self.failures, 5)), 1800)
            }
            // Jitter keeps a box full of torrents from announcing in lock step.
            let jitter = Int.random(in: 0...max(seconds / 10, 1), using: &self.random)
            self.timer = self.loop.schedule(after: .seconds(seconds + jitter)) { [weak self] in self?.announce(.none) }
        }
    }

    /// Tries `candidates` in order until one answers; `completion` gets its answer or nil.
    private func send(
        _ event: AnnounceEvent, candidates: [(tier: Int, index: Int, url: String)], completion: @escaping (AnnounceResponse?) -> Void
    ) {
        guard let (tier, index, url) = candidates.first else {
            completion(nil)
            return
        }
        guard let pace else { return transmit(event, to: url, tier: tier, index: index, candidates: candidates, completion: completion) { _ in } }
        let host = Self.host(of: url)
        pace.request(host: host) { [weak self] granted, done in
            guard let self else { return done(.answered) }
            guard granted else {
                self.log.debug("announce_deferred", [("tracker", url), ("reason", "host backing off")])
                return self.send(event, candidates: Array(candidates.dropFirst()), completion: completion)
            }
            self.transmit(event, to: url, tier: tier, index: index, candidates: candidates, completion: completion, done: done)
        }
    }

    /// The part of a tracker URL that names its host (and port): announces are paced per host.
    static func host(of url: String) -> String {
        var rest = Substring(url.lowercased())
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") { rest = rest[colon...].dropFirst(3) }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) { rest = rest[..<end] }
        return String(rest)
    }

    /// Sends one announce to `url`; on failure tries the rest of `candidates`. `done` hears
    /// whether the host answered at all.
    private func transmit(
        _ event: AnnounceEvent, to url: String, tier: Int, index: Int, candidates: [(tier: Int, index: Int, url: String)],
        completion: @escaping (AnnounceResponse?) -> Void, done: @escaping (AnnounceThrottle.HostOutcome) -> Void
    ) {
        var request = AnnounceRequest(infoHash: infoHash, peerID: peerID, port: port)
        let counters = totals()
        request.uploaded = counters.uploaded
        request.downloaded = counters.downloaded
        request.left = counters.left
        request.event = event
        request.key = key
        request.trackerID = trackerID
        request.numwant = event == .stopped ? 0 : 50
        log.debug("announcing", [("tracker", url), ("event", event.rawValue)])
        let handle: (Outcome) -> Void = { [weak self] outcome in
            switch outcome {
            case .success, .failure(_, hostAnswered: true): done(.answered)
            case .failure(_, hostAnswered: false): done(.failed)
            }
            guard let self else { return }
            switch outcome {
            case .success(let response):
                self.lastResponse = response
                if let id = response.trackerID { self.trackerID = id }
                if let warning = response.warning { self.log.warn("tracker_warning", [("tracker", url), ("message", warning)]) }
                self.log.info("announced", [("tracker", url), ("event", event.rawValue), ("peers", response.peers.count)])
                self.promote(tier: tier, index: index)
                self.peersFound?(response.peers.compactMap { SocketAddress(ip: $0.ip, port: $0.port) })
                completion(response)
            case .failure(let reason, _):
                self.log.warn("announce_failed", [("tracker", url), ("reason", reason)])
                self.send(event, candidates: Array(candidates.dropFirst()), completion: completion)
            }
        }
        if url.lowercased().hasPrefix("udp://"), let udp {
            udp.announce(url: url, request: request) { result in
                switch result {
                case .success(let response): handle(.success(response))
                case .failure(let error):
                    let answered: Bool
                    switch error {
                    case .tracker, .unexpectedResponse: answered = true
                    case .invalidURL, .unresolved, .timedOut: answered = false
                    }
                    handle(.failure(error.description, hostAnswered: answered))
                }
            }
            return
        }
        let separator = url.utf8.contains(UInt8(ascii: "?")) ? "&" : "?"
        http.get(url + separator + request.query(), timeout: .seconds(15), maxResponseBytes: 2 << 20) { result in
            handle(Self.interpret(result))
        }
    }

    private enum Outcome {
        case success(AnnounceResponse)
        /// `hostAnswered`: the host is up (it refused this torrent, or answered badly), as opposed
        /// to unreachable, timing out or failing (5xx), which backs the host off for every torrent.
        case failure(String, hostAnswered: Bool)
    }

    private static func interpret(_ result: Result<HTTPResponse, HTTPError>) -> Outcome {
        switch result {
        case .failure(let error): return .failure(error.description, hostAnswered: false)
        case .success(let response) where response.status != 200:
            return .failure("HTTP status \(response.status)", hostAnswered: response.status < 500)
        case .success(let response):
            do { return .success(try AnnounceResponse(bencoded: try response.trackerBody())) } catch {
                return .failure("\(error)", hostAnswered: true)
            }
        }
    }

    /// BEP 12: a tracker that answered moves to the front of its tier.
    private func promote(tier: Int, index: Int) {
        guard index > 0 else { return }
        let url = tiers[tier].remove(at: index)
        tiers[tier].insert(url, at: 0)
    }
}

@available(*, unavailable)
extension TrackerAnnouncer: Sendable {}

