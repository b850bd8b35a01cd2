import Testing

@testable import TorrentCore

@Suite struct AnnounceThrottleTests {
    let start = ContinuousClock.now

    private func sent(_ actions: [AnnounceThrottle.Action]) -> [Int] {
        actions.compactMap { if case .send(let ticket) = $0 { ticket } else { nil } }
    }

    private func refused(_ actions: [AnnounceThrottle.Action]) -> [Int] {
        actions.compactMap { if case .refuse(let ticket, _) = $0 { ticket } else { nil } }
    }

    // 1,000 torrents on one tracker: a few at a time in flight, at the session's rate, in the order
    // they asked; every one is sent exactly once.
    @Test func spreadsAThousandAnnouncesOverTime() {
        var limits = AnnounceThrottle.Limits()
        limits.perSecond = 20
        limits.perHost = 4
        var throttle = AnnounceThrottle(limits: limits)
        var inFlight: [Int] = []
        var order: [Int] = []
        var maxInFlight = 0
        var now = start
        for ticket in 0..<1000 { inFlight += sent(throttle.submit(ticket: ticket, host: "t", now: now)) }
        maxInFlight = inFlight.count
        order += inFlight
        var sentBySecond: [Int: Int] = [0: inFlight.count]
        // Each announce takes 50 ms; time moves in 10 ms steps.
        var answerAt: [Int: ContinuousClock.Instant] = Dictionary(uniqueKeysWithValues: inFlight.map { ($0, now + .milliseconds(50)) })
        while order.count < 1000, now < start + .seconds(120) {
            now += .milliseconds(10)
            var next: [Int] = []
            for ticket in inFlight where answerAt[ticket]! <= now {
                next += sent(throttle.finished(host: "t", .answered, now: now))
            }
            inFlight.removeAll { answerAt[$0]! <= now }
            next += sent(throttle.tick(now: now))
            for ticket in next { answerAt[ticket] = now + .milliseconds(50) }
            inFlight += next
            order += next
            maxInFlight = max(maxInFlight, inFlight.count)
            sentBySecond[Int((now - start).inSeconds), default: 0] += next.count
        }
        let inOrder = order == Array(0..<1000)
        #expect(inOrder)
        #expect(maxInFlight <= 4)
        // 20 per second (one second's burst at the start): about 50 s, never a second over the rate.
        let busiest = sentBySecond.values.max() ?? 0
        #expect(busiest <= 40)
        #expect(now - start >= .seconds(45))
    }

    // Two hosts share the rate fairly: a slow one does not hold back the other.
    @Test func aSlowHostDoesNotHoldBackAnother() {
        var limits = AnnounceThrottle.Limits()
        limits.perHost = 2
        var throttle = AnnounceThrottle(limits: limits)
        var sentTickets: [Int] = []
        for ticket in 0..<10 { sentTickets += sent(throttle.submit(ticket: ticket, host: "slow", now: start)) }
        for ticket in 100..<110 { sentTickets += sent(throttle.submit(ticket: ticket, host: "fast", now: start)) }
        #expect(sentTickets == [0, 1, 100, 101])
        // The fast host answers; its next two go while the slow host still holds its two.
        sentTickets = sent(throttle.finished(host: "fast", .answered, now: start))
        sentTickets += sent(throttle.finished(host: "fast", .answered, now: start))
        #expect(sentTickets == [102, 103])
    }

    // A failing host backs off for every torrent on it, doubling; then one probe goes, and only its
    // answer lets the others follow. A refusal of one torrent is not the host's fault.
    @Test func aFailingHostBacksOffForAllItsTorrents() {
        var throttle = AnnounceThrottle()
        var first: [Int] = []
        for ticket in 0..<10 { first += sent(throttle.submit(ticket: ticket, host: "down", now: start)) }
        #expect(first == [0, 1, 2, 3])
        let actions = throttle.finished(host: "down", .failed, now: start)
        #expect(refused(actions) == Array(4..<10))
        #expect(throttle.backoff(of: "down", now: start) == start + .seconds(30))
        // A new torrent is refused at once while it backs off; others are untouched.
        #expect(refused(throttle.submit(ticket: 50, host: "down", now: start + .seconds(29))) == [50])
        #expect(sent(throttle.submit(ticket: 60, host: "up", now: start + .seconds(29))) == [60])
        // The three in flight fail too: the backoff doubles with each.
        for _ in 0..<3 { _ = throttle.finished(host: "down", .failed, now: start) }
        #expect(throttle.backoff(of: "down", now: start) == start + .seconds(240))
        // After it, one probe at a time.
        let later = start + .seconds(241)
        var probes: [Int] = []
        for ticket in 70..<75 { probes += sent(throttle.submit(ticket: ticket, host: "down", now: later)) }
        #expect(probes == [70])
        // The probe is answered (the torrent refused: still an answer): the rest go, four at a time.
        #expect(sent(throttle.finished(host: "down", .answered, now: later)) == [71, 72, 73, 74])
        #expect(throttle.backoff(of: "down", now: later) == nil)
    }

    // The backoff stops growing at its cap.
    @Test func backoffIsCapped() {
        var throttle = AnnounceThrottle()
        var now = start
        for ticket in 0..<20 {
            _ = throttle.submit(ticket: ticket, host: "h", now: now)
            _ = throttle.finished(host: "h", .failed, now: now)
            now = throttle.backoff(of: "h", now: now) ?? now
        }
        _ = throttle.submit(ticket: 99, host: "h", now: now)
        _ = throttle.finished(host: "h", .failed, now: now)
        #expect(throttle.backoff(of: "h", now: now) == now + .seconds(1800))
    }
}
