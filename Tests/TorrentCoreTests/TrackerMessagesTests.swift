import Testing

@testable import TorrentCore

private let hash = InfoHash(bytes: (0..<20).map { UInt8($0 * 13) })!

private func request(_ id: UInt8, port: UInt16 = 6881, left: Int64 = 100, event: AnnounceEvent = .none) -> AnnounceRequest {
    var request = AnnounceRequest(infoHash: hash, peerID: [UInt8](repeating: id, count: 20), port: port)
    request.left = left
    request.event = event
    return request
}

@Suite struct AnnounceRequestTests {
    // Binary info_hash and peer_id survive the query string whatever their bytes (BEP 3:
    // percent-encoded raw bytes), and every field comes back.
    @Test func queryRoundTrips() throws {
        var original = AnnounceRequest(
            infoHash: InfoHash(bytes: [0, 255, 37, 43, 32, 38, 61, 63, 47, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])!,
            peerID: Array("-EV0100-".utf8) + [0, 255, 37, 43, 32, 38, 61, 63, 47, 1, 2, 3], port: 51413)
        original.uploaded = 123
        original.downloaded = 456
        original.left = 789
        original.event = .completed
        original.numwant = 30
        original.key = "k&y"
        original.trackerID = "t 1"
        #expect(try AnnounceRequest(query: original.query()) == original)
    }

    // Missing or malformed required fields are refused, naming the field.
    @Test func rejectsBadQueries() throws {
        let good = request(1).query()
        for (query, field) in [
            (good.replacingFirst("info_hash=", with: "x="), "info_hash"), ("info_hash=%00&peer_id=x&port=1", "info_hash"),
            (good.replacingFirst("peer_id=", with: "peer_id=ab"), "peer_id"), (good.replacingFirst("port=6881", with: "port=0"), "port"),
            (good.replacingFirst("port=6881", with: "port=70000"), "port"), (good + "&event=exploded", "event"),
        ] {
            #expect(throws: TrackerRequestError.invalidParameter(field), "\(query)") { try AnnounceRequest(query: query) }
        }
        #expect(try AnnounceRequest(query: good.replacingFirst("numwant=50", with: "numwant=100000")).numwant == 200)
    }
}

@Suite struct AnnounceResponseTests {
    // Compact IPv4 and IPv6 peers (BEP 23, BEP 7) with the intervals and counts.
    @Test func parsesCompactPeers() throws {
        var response = AnnounceResponse(
            interval: 900, peers: [TrackerPeer(ip: [127, 0, 0, 1], port: 6881), TrackerPeer(ip: [UInt8](repeating: 0, count: 15) + [1], port: 51413)],
            complete: 3, incomplete: 4)
        response.minInterval = 60
        response.warning = "be nice"
        response.trackerID = "abc"
        #expect(try AnnounceResponse(bencoded: response.encoded()) == response)
    }

    // The dictionary form (BEP 3 without compact) gives the same peers; names are skipped.
    @Test func parsesDictionaryPeers() throws {
        let response = AnnounceResponse(interval: 1800, peers: [TrackerPeer(ip: [10, 1, 2, 3], port: 80)])
        #expect(try AnnounceResponse(bencoded: response.encoded(compact: false)).peers == response.peers)
        let named = Array("d8:intervali60e5:peersld2:ip9:host.name4:porti1eed2:ip7:1.2.3.44:porti2eeee".utf8)
        #expect(try AnnounceResponse(bencoded: named).peers == [TrackerPeer(ip: [1, 2, 3, 4], port: 2)])
    }

    // A truncated compact list keeps its whole entries; port 0 entries are dropped.
    @Test func toleratesTruncatedCompactList() throws {
        let body = Array("d8:intervali60e5:peers16:".utf8) + [1, 2, 3, 4, 0, 80, 5, 6, 7, 8, 0, 0, 9, 9, 9, 9] + Array("e".utf8)
        #expect(try AnnounceResponse(bencoded: body).peers == [TrackerPeer(ip: [1, 2, 3, 4], port: 80)])
    }

    // Failures, garbage, missing interval and oversized bodies each give a clear error.
    @Test func reportsFailuresAndGarbage() {
        #expect(throws: TrackerResponseError.failure("torrent not registered")) {
            try AnnounceResponse(bencoded: AnnounceResponse.failure("torrent not registered"))
        }
        #expect(throws: TrackerResponseError.self) { try AnnounceResponse(bencoded: Array("<html>".utf8)) }
        #expect(throws: TrackerResponseError.malformed("no valid 'interval'")) {
            try AnnounceResponse(bencoded: Array("d5:peers0:e".utf8))
        }
        #expect(throws: TrackerResponseError.malformed("not a dictionary")) { try AnnounceResponse(bencoded: Array("le".utf8)) }
        let huge = Array("d8:intervali60e5:peers".utf8) + Array(String(5 << 20).utf8) + [58] + [UInt8](repeating: 1, count: 5 << 20) + [101]
        #expect(throws: TrackerResponseError.self) { try AnnounceResponse(bencoded: huge) }
    }

    // A tracker's words reach logs, terminals and the web client: control characters arrive as
    // visible escapes (no forged log line, no terminal sequence), and a novel is cut short.
    @Test func trackerTextIsMadePrintable() throws {
        let forged = "bad\n2026-11-29T10:00:00Z error forged=1 \u{1B}[2J\u{9B}31m\u{202E}txt.exe"
        #expect(throws: TrackerResponseError.failure("bad\\n2026-11-29T10:00:00Z error forged=1 \\x1b[2J\\u{9b}31m\\u{202e}txt.exe")) {
            try AnnounceResponse(bencoded: AnnounceResponse.failure(forged))
        }
        let warned = try AnnounceResponse(bencoded: Array("d8:intervali60e5:peers0:15:warning message3:a\rbe".utf8))
        #expect(warned.warning == "a\\rb")
        let long = String(repeating: "x", count: 10_000)
        guard case .error(_, let message)? = UDPTrackerPacket.decodeResponse([0, 0, 0, 3, 0, 0, 0, 7] + Array(long.utf8)) else {
            Issue.record("no UDP error parsed")
            return
        }
        #expect(message == String(repeating: "x", count: 512) + "…")
        #expect("plain text, ünïcode".printable() == "plain text, ünïcode")
    }
}

@Suite struct SwarmRegistryTests {
    let start = ContinuousClock.now

    // Peers get each other but not themselves; a seed is not sent seeds; stopped leaves; scrape
    // counts seeds, leechers and completions.
    @Test func handsPeersToEachOther() throws {
        var registry = SwarmRegistry(interval: .seconds(600))
        var random = SeededGenerator(seed: 42)
        _ = registry.announce(request(1, port: 1, left: 0), ip: [127, 0, 0, 1], now: start, random: &random)
        _ = registry.announce(request(2, port: 2), ip: [127, 0, 0, 2], now: start, random: &random)
        let third = try #require(registry.announce(request(3, port: 3), ip: [127, 0, 0, 3], now: start, random: &random))
        #expect(Set(third.peers) == [TrackerPeer(ip: [127, 0, 0, 1], port: 1), TrackerPeer(ip: [127, 0, 0, 2], port: 2)])
        #expect(third.complete == 1 && third.incomplete == 2)
        let seed = try #require(registry.announce(request(1, port: 1, left: 0), ip: [127, 0, 0, 1], now: start, random: &random))
        #expect(Set(seed.peers) == [TrackerPeer(ip: [127, 0, 0, 2], port: 2), TrackerPeer(ip: [127, 0, 0, 3], port: 3)])
        _ = registry.announce(request(2, port: 2, left: 0, event: .completed), ip: [127, 0, 0, 2], now: start, random: &random)
        _ = registry.announce(request(3, port: 3, event: .stopped), ip: [127, 0, 0, 3], now: start, random: &random)
        let scraped = registry.scrape(hash, now: start)
        let counts = try #require(scraped)
        #expect(counts.complete == 2 && counts.incomplete == 0 && counts.downloaded == 1)
    }

    // A first announce with nothing left may be a magnet client that does not know the size yet
    // (aria2 says left=0 before it has the metadata): it gets the seeds too; a later one does not.
    @Test func aFirstAnnounceWithNothingLeftGetsSeeds() throws {
        var registry = SwarmRegistry(interval: .seconds(600))
        var random = SeededGenerator(seed: 7)
        _ = registry.announce(request(1, port: 1, left: 0), ip: [127, 0, 0, 1], now: start, random: &random)
        let magnet = try #require(registry.announce(request(2, port: 2, left: 0, event: .started), ip: [127, 0, 0, 2], now: start, random: &random))
        #expect(magnet.peers == [TrackerPeer(ip: [127, 0, 0, 1], port: 1)])
        let again = try #require(registry.announce(request(2, port: 2, left: 0), ip: [127, 0, 0, 2], now: start, random: &random))
        #expect(again.peers.isEmpty)
    }

    // A peer not heard from for 1.5 intervals is forgotten; the per-torrent cap holds; torrents
    // outside the allowed set are refused.
    @Test func expiresCapsAndRestricts() throws {
        var registry = SwarmRegistry(interval: .seconds(100), maxPeersPerTorrent: 3, allowed: [hash])
        var random = SeededGenerator(seed: 42)
        for id in 1...5 { _ = registry.announce(request(UInt8(id), port: UInt16(id)), ip: [127, 0, 0, 1], now: start, random: &random) }
        let before = registry.scrape(hash, now: start)
        #expect(before?.incomplete == 3)
        let after = registry.scrape(hash, now: start + .seconds(151))
        #expect(after?.incomplete == 0)
        var other = request(9)
        other.infoHash = InfoHash(bytes: [UInt8](repeating: 1, count: 20))!
        let refused = registry.announce(other, ip: [127, 0, 0, 1], now: start, random: &random)
        #expect(refused == nil)
    }

    // In a swarm of 30,000 an answer is a fair sample of numwant distinct others (never the
    // asker, never seeds for a seed); counts stay exact as peers come, change and go.
    @Test func samplesBigSwarms() throws {
        var registry = SwarmRegistry(interval: .seconds(1800), maxPeersPerTorrent: 50_000)
        var random = SeededGenerator(seed: 3)
        func peer(_ n: Int, left: Int64 = 100, event: AnnounceEvent = .none) -> AnnounceRequest {
            var announce = request(0, left: left, event: event)
            announce.peerID = Array("-TT0001-".utf8) + withUnsafeBytes(of: UInt32(n).bigEndian, Array.init) + [UInt8](repeating: 0, count: 8)
            announce.port = UInt16(truncatingIfNeeded: n)
            return announce
        }
        for n in 0..<30_000 { _ = registry.announce(peer(n, left: n % 3 == 0 ? 0 : 100), ip: [10, 0, 0, 1], now: start, random: &random) }
        let answer = try #require(registry.announce(peer(5), ip: [10, 0, 0, 1], now: start, random: &random))
        #expect(answer.peers.count == 50 && Set(answer.peers).count == 50)
        #expect(!answer.peers.contains(TrackerPeer(ip: [10, 0, 0, 1], port: 5)))
        #expect(answer.complete == 10_000 && answer.incomplete == 20_000)
        let seed = try #require(registry.announce(peer(3, left: 0), ip: [10, 0, 0, 1], now: start, random: &random))
        #expect(seed.peers.count == 50 && seed.peers.allSatisfy { $0.port % 3 != 0 })
        _ = registry.announce(peer(4, left: 0, event: .completed), ip: [10, 0, 0, 1], now: start, random: &random)
        _ = registry.announce(peer(7, event: .stopped), ip: [10, 0, 0, 1], now: start, random: &random)
        let scraped = registry.scrape(hash, now: start)
        let counts = try #require(scraped)
        #expect(counts.complete == 10_001 && counts.incomplete == 19_998 && counts.downloaded == 1)
    }

    // An open tracker keeps at most maxTorrents swarms; a swarm whose last peer stops is gone at
    // once, and a sweep frees the ones that expired.
    @Test func capsAndFreesSwarms() throws {
        var registry = SwarmRegistry(interval: .seconds(100), maxTorrents: 3)
        var random = SeededGenerator(seed: 5)
        func announce(_ torrent: UInt8, event: AnnounceEvent = .none, at time: Duration = .zero) -> AnnounceResponse? {
            var announce = request(1, event: event)
            announce.infoHash = InfoHash(bytes: [UInt8](repeating: torrent, count: 20))!
            return registry.announce(announce, ip: [127, 0, 0, 1], now: start + time, random: &random)
        }
        for torrent: UInt8 in 1...3 { #expect(announce(torrent) != nil) }
        #expect(announce(4) == nil && registry.swarmCount == 3)
        #expect(announce(2, event: .stopped) != nil && registry.swarmCount == 2)
        #expect(announce(4, at: .seconds(100)) != nil && registry.swarmCount == 3)
        registry.sweep(now: start + .seconds(151))
        #expect(registry.swarmCount == 1)
        registry.sweep(now: start + .seconds(400))
        #expect(registry.swarmCount == 0)
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        let parts = split(separator: target, maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? parts[0] + replacement + parts[1] : self
    }
}

@Suite struct ScrapeTests {
    // BEP 48's examples: only a last path component starting with "announce" has a scrape URL.
    @Test func derivesScrapeURLs() {
        let cases: [(String, String?)] = [
            ("http://example.com/announce", "http://example.com/scrape"),
            ("http://example.com/x/announce", "http://example.com/x/scrape"),
            ("http://example.com/announce.php", "http://example.com/scrape.php"),
            ("http://example.com/a", nil), ("http://example.com/announce?x2%0644", "http://example.com/scrape?x2%0644"),
            ("http://example.com/announce?x=2/4", "http://example.com/scrape?x=2/4"), ("http://example.com/x%064announce", nil),
        ]
        for (announce, scrape) in cases {
            #expect(ScrapeCounts.scrapeURL(forAnnounce: announce) == scrape, "\(announce)")
        }
    }

    // A scrape body's counts for our torrent; other torrents, failures and garbage are errors.
    @Test func parsesScrapeBodies() throws {
        let hash = InfoHash(bytes: [UInt8](repeating: 0xAB, count: 20))!
        let files = BencodeDictionary([("", .integer(0))])
        var dictionary = files
        dictionary[hash.bytes] = .dictionary(
            BencodeDictionary([("complete", .integer(5)), ("incomplete", .integer(7)), ("downloaded", .integer(11))]))
        let body = Bencode.encode(.dictionary(BencodeDictionary([("files", .dictionary(dictionary))])))
        #expect(try ScrapeCounts(bencoded: body, infoHash: hash) == ScrapeCounts(seeders: 5, leechers: 7, completed: 11))
        let other = InfoHash(bytes: [UInt8](repeating: 1, count: 20))!
        #expect(throws: TrackerResponseError.malformed("no entry for this torrent")) { try ScrapeCounts(bencoded: body, infoHash: other) }
        #expect(throws: TrackerResponseError.failure("no")) {
            try ScrapeCounts(bencoded: AnnounceResponse.failure("no"), infoHash: hash)
        }
        #expect(throws: TrackerResponseError.self) { try ScrapeCounts(bencoded: Array("junk".utf8), infoHash: hash) }
    }
}
