import Reactor
import TorrentCore

/// The session's pace for announces (`AnnounceThrottle` on the loop's clock): every announcer
/// asks before it sends, so thousands of torrents announce at a steady rate, a few at a time per
/// tracker host, and a host that fails backs off for all of them at once.
public final class AnnounceScheduler {
    /// Whether the announce may go: `true` to send it (then report with the `done` it was given),
    /// `false` when its host is backing off.
    typealias Grant = (_ granted: Bool, _ done: @escaping (AnnounceThrottle.HostOutcome) -> Void) -> Void

    private unowned let scheduler: any Scheduler
    private var throttle: AnnounceThrottle
    private var waiting: [Int: (host: String, grant: Grant)] = [:]
    private var nextTicket = 0
    private var timer: TimerHandle?
    /// Announces sent and answered or failed, by host outcome (for metrics).
    private(set) var answered = 0
    private(set) var failed = 0
    private(set) var refused = 0

    public init(scheduler: any Scheduler, limits: AnnounceThrottle.Limits = AnnounceThrottle.Limits()) {
        self.scheduler = scheduler
        throttle = AnnounceThrottle(limits: limits)
    }

    /// Announces waiting for their turn.
    var waitingCount: Int { waiting.count }

    /// Asks to announce to `host`; `grant` runs when it may (or at once, refused, if the host is
    /// backing off).
    func request(host: String, _ grant: @escaping Grant) {
        let ticket = nextTicket
        nextTicket += 1
        waiting[ticket] = (host, grant)
        carryOut(throttle.submit(ticket: ticket, host: host, now: scheduler.now))
    }

    private func carryOut(_ actions: [AnnounceThrottle.Action]) {
        for action in actions {
            switch action {
            case .send(let ticket):
                guard let (host, grant) = waiting.removeValue(forKey: ticket) else { continue }
                var reported = false
                grant(true) { [weak self] outcome in
                    guard let self, !reported else { return }
                    reported = true
                    if outcome == .answered { self.answered += 1 } else { self.failed += 1 }
                    self.carryOut(self.throttle.finished(host: host, outcome, now: self.scheduler.now))
                }
            case .refuse(let ticket, _):
                guard let (_, grant) = waiting.removeValue(forKey: ticket) else { continue }
                refused += 1
                grant(false) { _ in }
            }
        }
        armTimer()
    }

    private func armTimer() {
        guard timer == nil, let at = throttle.nextTick(now: scheduler.now) else { return }
        timer = scheduler.schedule(after: at - scheduler.now) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.carryOut(self.throttle.tick(now: self.scheduler.now))
        }
    }
}

@available(*, unavailable)
extension AnnounceScheduler: Sendable {}
