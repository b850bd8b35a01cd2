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
}
