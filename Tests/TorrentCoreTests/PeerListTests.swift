import Testing

@testable import TorrentCore

@Suite struct PeerListTests {
    let start = ContinuousClock.now

    // Candidates come out in turn, never twice while in flight, and a connected one is skipped.
    @Test func handsOutEachCandidateOnce() {
        var list = PeerList()
        #expect(list.add(["a:1", "b:1", "c:1", "a:1"], from: .tracker) == 3)
        #expect(list.nextCandidates(2, now: start) == ["a:1", "b:1"])
        #expect(list.nextCandidates(5, now: start) == ["c:1"])
        list.connected("a:1")
        list.attemptFailed("b:1", now: start)
        list.attemptFailed("c:1", now: start)
        #expect(list.nextCandidates(5, now: start).isEmpty)
    }

    // A failed attempt backs off 30 s, doubling with each failure up to 30 min; after five failures a tracker's
    // address is forgotten, a manual one kept (and retried at once when named again).
    @Test func backsOffAndForgets() {
        var list = PeerList()
        list.add(["t:1"], from: .tracker)
        list.add(["m:1"], from: .manual)
        var now = start
        var delays: [Duration] = []
        for _ in 0..<4 {
            _ = list.nextCandidates(2, now: now)
            list.attemptFailed("t:1", now: now)
            list.attemptFailed("m:1", now: now)
            var wait: Duration = .seconds(1)
            while list.nextCandidates(2, now: now + wait).isEmpty { wait += .seconds(1) }
            // Both came back together; hand them back as failed at that moment.
            delays.append(wait)
            now += wait
            list.attemptFailed("t:1", now: now)
            list.attemptFailed("m:1", now: now)
            now += .seconds(1800)
        }
        // Failures 1, 3, 5, 7 of the manual peer: 30 s, 2 min, 8 min, then the 30 min cap.
        #expect(delays == [.seconds(30), .seconds(120), .seconds(480), .seconds(1800)])
        #expect(!list.contains("t:1") && list.contains("m:1"))
        list.add(["m:1"], from: .manual)
        #expect(list.nextCandidates(1, now: now) == ["m:1"])
    }

    // A peer that disconnects may be dialled again after the base backoff; an incoming one is
    // remembered; the list never grows past its capacity.
    @Test func disconnectsAndCapacity() {
        var list = PeerList()
        list.connected("in:1")
        #expect(list.sources(of: "in:1") == .incoming)
        list.disconnected("in:1", now: start)
        #expect(list.nextCandidates(1, now: start + .seconds(29)).isEmpty)
        #expect(list.nextCandidates(1, now: start + .seconds(30)) == ["in:1"])
        let flood = (0..<10_000).map { "10.0.\($0 / 256).\($0 % 256):1" }
        list.add(flood, from: .pex)
        #expect(list.count == PeerList.capacity)
    }
}
