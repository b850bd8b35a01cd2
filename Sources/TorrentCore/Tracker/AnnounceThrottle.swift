/// Spreads the announces of many torrents over time and over tracker hosts, with no I/O: a box
/// restarting with 10,000 torrents on one tracker sends them at a steady rate, a few at a time per
/// host, never all at once; a host that fails (unreachable, timing out, 5xx) backs off for every
/// torrent on it (30 s, doubling to 30 min) and is then probed by one announce before the others
/// follow. An answer that refuses one torrent (a bencoded `failure reason`) is not the host's
/// fault. Tickets are the caller's numbers for its waiting announces; time is passed in.
public struct AnnounceThrottle: Sendable {
    /// The pace.
    public struct Limits: Sendable {
        /// Announces started per second across the session (the bucket holds one second's worth).
        public var perSecond = 50
        /// Announces in flight per host.
        public var perHost = 4
        /// The first backoff of a failing host; it doubles with each failure.
        public var firstBackoff: Duration = .seconds(30)
        /// The longest backoff.
        public var maxBackoff: Duration = .seconds(1800)
        public init() {}
    }

    /// How an announce to a host went, for the host.
    public enum HostOutcome: Sendable {
        /// The host answered (even if it refused the torrent).
        case answered
        /// No usable answer: connection refused, timeout, DNS failure, HTTP 5xx.
        case failed
    }

    /// What the caller does now.
    public enum Action: Equatable, Sendable {
        /// Send this ticket's announce; report back with `finished`.
        case send(ticket: Int)
        /// The host is backing off until then: this ticket's announce fails without being sent.
        case refuse(ticket: Int, until: ContinuousClock.Instant)
    }

    private struct Host {
        var inFlight = 0
        var failures = 0
        var downUntil: ContinuousClock.Instant?
        var waiting: [Int] = []
        var head = 0
        var hasWaiting: Bool { head < waiting.count }
    }

    public let limits: Limits
    private var hosts: [String: Host] = [:]
    /// Hosts with waiting tickets, in turn order.
    private var turns: [String] = []
    private var tokens: Double
    private var refilledAt: ContinuousClock.Instant?

    public init(limits: Limits = Limits()) {
        self.limits = limits
        tokens = Double(max(1, limits.perSecond))
    }

    /// Announces waiting to be sent.
    public var waitingCount: Int { hosts.values.reduce(0) { $0 + $1.waiting.count - $1.head } }

    /// Whether `host` is backing off now, and until when.
    public func backoff(of host: String, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard let until = hosts[host]?.downUntil, until > now else { return nil }
        return until
    }

    /// An announce to `host` wants to go out.
    public mutating func submit(ticket: Int, host: String, now: ContinuousClock.Instant) -> [Action] {
        if let until = backoff(of: host, now: now) { return [.refuse(ticket: ticket, until: until)] }
        var entry = hosts[host] ?? Host()
        if !entry.hasWaiting { turns.append(host) }
        entry.waiting.append(ticket)
        hosts[host] = entry
        return release(now: now)
    }

    /// An announce sent to `host` ended.
    public mutating func finished(host: String, _ outcome: HostOutcome, now: ContinuousClock.Instant) -> [Action] {
        guard var entry = hosts[host] else { return release(now: now) }
        entry.inFlight = max(0, entry.inFlight - 1)
        var refused: [Action] = []
        switch outcome {
        case .answered:
            entry.failures = 0
            entry.downUntil = nil
        case .failed:
            entry.failures += 1
            let doubling = min(entry.failures - 1, 16)
            let delay = min(limits.firstBackoff * (1 << doubling), limits.maxBackoff)
            let until = now + delay
            entry.downUntil = until
            // Everything waiting on it fails now; each torrent retries on its own schedule (or
            // moves on to its next tracker).
            refused = entry.waiting[entry.head...].map { .refuse(ticket: $0, until: until) }
            entry.waiting = []
            entry.head = 0
            turns.removeAll { $0 == host }
        }
        hosts[host] = entry
        if entry.inFlight == 0, !entry.hasWaiting, entry.failures == 0 { hosts.removeValue(forKey: host) }
        return refused + release(now: now)
    }

    /// When to call `tick` next (tokens refill), or nil when nothing waits for tokens.
    public func nextTick(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard !turns.isEmpty, tokens < 1 else { return nil }
        return now + .milliseconds(Int64(((1 - tokens) * 1000 / Double(max(1, limits.perSecond))).rounded(.up)))
    }

    /// Time passed: tokens refill and waiting announces go.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] { release(now: now) }

    private mutating func refill(now: ContinuousClock.Instant) {
        let rate = Double(max(1, limits.perSecond))
        if let refilledAt {
            tokens = min(rate, tokens + (now - refilledAt).inSeconds * rate)
        }
        refilledAt = now
    }

    /// Grants tokens to waiting announces, one host after another, within each host's limit; a
    /// host recovering from failures gets one probe at a time.
    private mutating func release(now: ContinuousClock.Instant) -> [Action] {
        refill(now: now)
        var actions: [Action] = []
        var index = 0
        var blockedInARow = 0
        while tokens >= 1, !turns.isEmpty, blockedInARow < turns.count {
            if index >= turns.count { index = 0 }
            let name = turns[index]
            guard var entry = hosts[name], entry.hasWaiting else {
                turns.remove(at: index)
                continue
            }
            let limit = entry.failures > 0 ? 1 : max(1, limits.perHost)
            guard entry.inFlight < limit else {
                blockedInARow += 1
                index += 1
                continue
            }
            blockedInARow = 0
            let ticket = entry.waiting[entry.head]
            entry.head += 1
            if entry.head > 64, entry.head * 2 > entry.waiting.count {
                entry.waiting.removeFirst(entry.head)
                entry.head = 0
            }
            entry.inFlight += 1
            tokens -= 1
            actions.append(.send(ticket: ticket))
            let done = !entry.hasWaiting
            hosts[name] = entry
            if done { turns.remove(at: index) } else { index += 1 }
        }
        return actions
    }
}
