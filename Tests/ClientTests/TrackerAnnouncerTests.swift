import Reactor
import Testing
import TorrentCore

@testable import Client

@Suite struct TrackerAnnouncerTests {
    // `stopped` is announced and its answer awaited even when nothing else holds the announcer
    // (a removed torrent, a session shutting down): the stop completes as soon as the tracker
    // answers, not when the 3 s timeout gives up.
    @Test func stopCompletesOnTheAnswerWhenUnreferenced() throws {
        let loop = try EventLoop()
        var events: [String] = []
        let tracker = try HTTPServer(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)!) { request in
            events.append(request.query.split(separator: "&").first { $0.hasPrefix("event=") }.map(String.init) ?? "none")
            return HTTPServerResponse(status: 200, body: Bencode.encode(.dictionary(BencodeDictionary([("interval", .integer(1800))]))))
        }
        var announcer: TrackerAnnouncer? = TrackerAnnouncer(
            loop: loop, http: HTTPClient(loop: loop), tiers: [["http://127.0.0.1:\(tracker.localAddress.port)/announce"]],
            infoHash: InfoHash(bytes: [UInt8](repeating: 5, count: 20))!, peerID: [UInt8](repeating: 6, count: 20), port: 6881,
            log: Log(minimum: .error)
        ) { (0, 0, 0) }
        announcer?.start()
        _ = loop.run(until: { events.count == 1 }, timeout: .seconds(5))
        let began = ContinuousClock.now
        var stopped = false
        announcer?.stop { stopped = true }
        announcer = nil
        #expect(loop.run(until: { stopped }, timeout: .seconds(5)))
        #expect(ContinuousClock.now - began < .seconds(1))
        #expect(events == ["event=started", "event=stopped"])
    }

    private static func announcers(
        _ count: Int, loop: EventLoop, pace: AnnounceScheduler, tiers: [[String]]
    ) -> [TrackerAnnouncer] {
        let http = HTTPClient(loop: loop)
        return (0..<count).map { index in
            TrackerAnnouncer(
                loop: loop, http: http, pace: pace, tiers: tiers,
                infoHash: InfoHash(bytes: [UInt8](repeating: UInt8(index % 256), count: 19) + [UInt8(index / 256)])!,
                peerID: [UInt8](repeating: 6, count: 20), port: 6881, log: Log(minimum: .error)
            ) { (0, 0, 0) }
        }
    }

    private static let answer = Bencode.encode(.dictionary(BencodeDictionary([("interval", .integer(1800))])))

    // 200 torrents starting at once on one tracker: it sees at most three announces at a time, at
    // the session's rate, and every torrent's `started` arrives.
    @Test func manyTorrentsAnnounceAtAPace() throws {
        let loop = try EventLoop()
        var inFlight = 0, maxInFlight = 0, arrived = 0
        let tracker = try HTTPServer(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)!) { _, responder in
            inFlight += 1
            arrived += 1
            maxInFlight = max(maxInFlight, inFlight)
            loop.schedule(after: .milliseconds(10)) {
                inFlight -= 1
                responder.respond(HTTPServerResponse(status: 200, body: Self.answer))
            }
        }
        var limits = AnnounceThrottle.Limits()
        limits.perSecond = 100
        limits.perHost = 3
        let pace = AnnounceScheduler(scheduler: loop, limits: limits)
        let all = Self.announcers(200, loop: loop, pace: pace, tiers: [["http://127.0.0.1:\(tracker.localAddress.port)/announce"]])
        let began = ContinuousClock.now
        for announcer in all { announcer.start() }
        #expect(loop.run(until: { arrived == 200 && inFlight == 0 }, timeout: .seconds(20)))
        #expect(maxInFlight <= 3)
        #expect(maxInFlight >= 2)
        // One second's burst, then 100 per second.
        #expect(ContinuousClock.now - began >= .milliseconds(900))
        #expect(pace.answered == 200)
    }

    // A tracker host that fails (HTTP 503) backs off for every torrent on it: it sees the first
    // few announces only, and each torrent moves on to its next tier at once.
    @Test func aFailingHostBacksOffForEveryTorrent() throws {
        let loop = try EventLoop()
        var failing = 0, working = 0
        let down = try HTTPServer(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)!) { _ in
            failing += 1
            return HTTPServerResponse(status: 503)
        }
        let up = try HTTPServer(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)!) { _ in
            working += 1
            return HTTPServerResponse(status: 200, body: Self.answer)
        }
        var limits = AnnounceThrottle.Limits()
        limits.perHost = 3
        let pace = AnnounceScheduler(scheduler: loop, limits: limits)
        let all = Self.announcers(
            50, loop: loop, pace: pace,
            tiers: [["http://127.0.0.1:\(down.localAddress.port)/announce"], ["http://127.0.0.1:\(up.localAddress.port)/announce"]])
        for announcer in all { announcer.start() }
        #expect(loop.run(until: { working == 50 }, timeout: .seconds(20)))
        _ = loop.run(until: { false }, timeout: .milliseconds(300))
        #expect(failing <= 3)
        #expect(pace.refused >= 47)
    }
}
