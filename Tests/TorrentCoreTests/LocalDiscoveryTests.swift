import Testing

@testable import TorrentCore

/// Calls `body` (lets #expect look at a mutating call's result).
private func run<T>(_ body: () -> T) -> T { body() }

private func hash(_ n: UInt8) -> InfoHash { InfoHash(bytes: [UInt8](repeating: n, count: 20))! }

@Suite struct LocalDiscoveryTests {
    let start = ContinuousClock.now

    // The packet as BEP 14 writes it, read back; header names in any case, bad hashes skipped,
    // and packets without a port or a hash, over 1400 bytes or not BT-SEARCH refused.
    @Test func encodesAndDecodes() throws {
        let announcement = LSDAnnouncement(peerPort: 6881, infoHashes: [hash(1), hash(2)], cookie: "abc")
        let text = String(decoding: announcement.encoded(host: "239.192.152.143:6771"), as: UTF8.self)
        #expect(text == "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: \(hash(1).hex)\r\nInfohash: \(hash(2).hex)\r\ncookie: abc\r\n\r\n\r\n")
        #expect(try LSDAnnouncement(decoding: Array(text.utf8)) == announcement)
        let loose = "BT-SEARCH * HTTP/1.1\r\nhost: x\r\nPORT: 7000\r\nINFOHASH: nothex\r\ninfohash: \(hash(3).hex.uppercased())\r\n\r\n"
        #expect(try LSDAnnouncement(decoding: Array(loose.utf8)) == LSDAnnouncement(peerPort: 7000, infoHashes: [hash(3)], cookie: ""))
        for bad in ["GET / HTTP/1.1\r\nPort: 1\r\nInfohash: \(hash(1).hex)\r\n\r\n", "BT-SEARCH * HTTP/1.1\r\nInfohash: \(hash(1).hex)\r\n\r\n",
                    "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: \(hash(1).hex)\r\n\r\n", "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n",
                    "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n" + String(repeating: "X: y\r\n", count: 300)] {
            #expect(throws: LSDAnnouncement.Failure.self) { try LSDAnnouncement(decoding: Array(bad.utf8)) }
        }
        // A cookie keeps printable ASCII only (64 at most), so it reads back as it was kept (the
        // fuzzer found one ending in a tab after the cut).
        let odd = "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \(hash(1).hex)\r\ncookie: x1\u{FF}" + String(repeating: "a", count: 61) + "\t\tb\r\n\r\n"
        let kept = try LSDAnnouncement(decoding: Array(odd.utf8))
        #expect(kept.cookie == "x1" + String(repeating: "a", count: 61) + "b" && kept.cookie.count == 64)
        #expect(try LSDAnnouncement(decoding: kept.encoded(host: "h")) == kept)
        let many = (1...40).map { hash(UInt8($0)) }
        #expect(LSDAnnouncement(peerPort: 1, infoHashes: many, cookie: "c").encoded(host: "h").count <= LSDAnnouncement.maxBytes)
    }

    // One packet a minute at most, each torrent every five minutes, 20 to a packet in turns:
    // with 30 torrents the first packet names 20, the next minute the other 10, then nothing
    // until five minutes have passed for the first 20.
    @Test func pacesAnnouncements() {
        var schedule = LSDSchedule(cookie: "me")
        let torrents = (1...30).map { hash(UInt8($0)) }
        let first = run { schedule.due(torrents, now: start) }
        #expect(first?.count == LSDAnnouncement.maxHashes)
        #expect(run { schedule.due(torrents, now: start + .seconds(30)) } == nil)
        let second = run { schedule.due(torrents, now: start + .seconds(60)) }
        #expect(second?.count == 10 && Set(second!).isDisjoint(with: first!))
        #expect(run { schedule.due(torrents, now: start + .seconds(120)) } == nil)
        #expect(Set(run { schedule.due(torrents, now: start + .seconds(300)) } ?? []) == Set(first!))
    }

    // Our own echo is ignored by its cookie; the same host and torrent is taken once a minute.
    @Test func ignoresEchoesAndRepeats() {
        var schedule = LSDSchedule(cookie: "me")
        #expect(run { schedule.heard(LSDAnnouncement(peerPort: 1, infoHashes: [hash(1)], cookie: "me"), from: "10.0.0.1", now: start) }.isEmpty)
        let other = LSDAnnouncement(peerPort: 1, infoHashes: [hash(1), hash(2)], cookie: "them")
        #expect(run { schedule.heard(other, from: "10.0.0.2", now: start) } == [hash(1), hash(2)])
        #expect(run { schedule.heard(other, from: "10.0.0.2", now: start + .seconds(10)) }.isEmpty)
        #expect(run { schedule.heard(other, from: "10.0.0.3", now: start + .seconds(10)) } == [hash(1), hash(2)])
        #expect(run { schedule.heard(other, from: "10.0.0.2", now: start + .seconds(61)) } == [hash(1), hash(2)])
    }
}
