import Reactor
import ReactorTesting
import Testing
import TorrentCore

@testable import Client

/// Two files (150,000 and 90,000 bytes) in 16 KiB pieces: 15 pieces, the last one short, one
/// piece across the file boundary.
struct TestContent {
    let directory: TemporaryDirectory
    let metainfo: Metainfo
    let stream: [UInt8]

    init() throws {
        directory = try TemporaryDirectory()
        let first = patternBytes(150_000, seed: 1)
        let second = patternBytes(90_000, seed: 2)
        try directory.write("content/a.bin", first)
        try directory.write("content/b/c.bin", second)
        stream = first + second
        metainfo = try makeTorrent(of: directory.path + "/content")
    }

    var pieceCount: Int { metainfo.info.pieceCount }

    func handshake(_ n: UInt8 = 1, fast: Bool = true) -> [UInt8] {
        Handshake(infoHash: metainfo.infoHash, peerID: testPeerID(n), extensions: false, fast: fast).encoded()
    }

    /// A session seeding this content.
    func seeding(_ configure: (inout SessionOptions) -> Void = { _ in }) -> ManualSession {
        let manual = ManualSession(configure)
        seed(in: manual, options: TorrentOptions())
        return manual
    }

    /// Adds this content to `manual`'s session as a complete seed run as `options` say.
    @discardableResult
    func seed(in manual: ManualSession, options: TorrentOptions) -> Torrent {
        manual.session.add(
            metainfo, location: ContentLocation(metainfo: metainfo, directory: directory.path),
            have: Bitfield(count: pieceCount, allSet: true), options: options)
    }

    func block(_ piece: Int, _ offset: Int = 0, _ length: Int = 16_384) -> BlockRequest {
        BlockRequest(piece: PieceIndex(piece), offset: offset, length: length)
    }
}

@Suite struct EngineTests {
    // A peer that speaks the protocol is answered in order: our handshake and HaveAll, an
    // Unchoke as soon as it is interested (a slot is free), then each requested block with the
    // file's exact bytes, across the file boundary too.
    @Test func servesAWellBehavedPeer() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding()
        let peer = try #require(manual.incoming())
        peer.deliver(content.handshake())
        let (handshake, opening) = readMessages(peer, pieceCount: content.pieceCount, handshake: true)
        #expect(handshake?.infoHash == content.metainfo.infoHash)
        #expect(opening == [.haveAll])
        peer.deliver(PeerMessage.interested.encoded())
        #expect(readMessages(peer, pieceCount: content.pieceCount).1 == [.unchoke])
        // Piece 9 spans both files (bytes 147,456..<163,840).
        let requests = [content.block(0), content.block(9), content.block(14, 0, 240_000 - 14 * 16_384)]
        peer.deliver(requests.flatMap { PeerMessage.request($0).encoded() })
        let served = readMessages(peer, pieceCount: content.pieceCount).1
        #expect(served.count == 3)
        for (request, message) in zip(requests, served) {
            let start = request.piece.value * 16_384 + request.offset
            #expect(message == .piece(request, content.stream[start..<start + request.length]))
        }
        #expect(manual.session.status.uploadedBytes == Int64(requests.map(\.length).reduce(0, +)))
        #expect(manual.session.stats.connectionsAccepted == 1 && manual.session.stats.peersDroppedTotal == 0)
        #expect(peer.isOpen)
    }

    // Admission: a handshake for another torrent, from ourselves, or from a peer id already
    // connected is closed with nothing sent back; past the per-torrent limit a peer is closed;
    // past the global limit it is refused before any byte.
    @Test func admitsOnlyPeersItShould() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding { $0.maxPeersPerTorrent = 2; $0.maxPeers = 5 }
        let session = manual.session

        let stranger = try #require(manual.incoming())
        stranger.deliver(Handshake(infoHash: InfoHash(bytes: [UInt8](repeating: 9, count: 20))!, peerID: testPeerID(1)).encoded())
        #expect(stranger.closeReason == .closedLocally && stranger.takeWritten().isEmpty)

        let mirror = try #require(manual.incoming())
        mirror.deliver(Handshake(infoHash: content.metainfo.infoHash, peerID: session.peerID).encoded())
        #expect(mirror.closeReason == .closedLocally && mirror.takeWritten().isEmpty)

        let first = try #require(manual.incoming())
        first.deliver(content.handshake(1))
        let twin = try #require(manual.incoming(from: "10.0.0.2"))
        twin.deliver(content.handshake(1))
        #expect(first.isOpen && twin.closeReason == .closedLocally)

        let second = try #require(manual.incoming(from: "10.0.0.3"))
        second.deliver(content.handshake(2))
        let third = try #require(manual.incoming(from: "10.0.0.4"))
        third.deliver(content.handshake(3))
        #expect(second.isOpen && third.closeReason == .closedLocally)
        #expect(session.torrent(for: content.metainfo.infoHash)?.peerCount == 2)

        #expect(session.droppedByReason == ["unknown_torrent": 1, "self_connection": 1, "duplicate_peer": 1])
        // Global limit: five connections are open or pending (two peers plus three new).
        for host in ["10.0.1.1", "10.0.1.2", "10.0.1.3"] { _ = try #require(manual.incoming(from: host)) }
        #expect(manual.incoming(from: "10.0.1.4") == nil)
    }

    // One address opening connection after connection gets its share and no more: the other
    // slots stay for other peers, and a closed connection frees its place.
    @Test func oneAddressCannotTakeEverySlot() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding { $0.maxPeers = 10; $0.maxPeersPerAddress = 3 }
        let greedy = try (1...3).map { index in
            let connection = try #require(manual.incoming(from: "10.9.9.9"))
            connection.deliver(content.handshake(UInt8(index)))
            return connection
        }
        #expect(greedy.allSatisfy { $0.isOpen })
        #expect(manual.incoming(from: "10.9.9.9") == nil)
        #expect(manual.incoming(from: "10.9.9.9") == nil)
        let other = try #require(manual.incoming(from: "10.0.0.7"))
        other.deliver(content.handshake(7))
        #expect(other.isOpen)
        #expect(manual.session.stats.refusedPerAddress == 2)
        greedy[0].peerClose()
        #expect(manual.incoming(from: "10.9.9.9") != nil)
        #expect(manual.incoming(from: "10.9.9.9") == nil)
    }

    // A blocklist refuses its addresses both ways: incoming connections are turned away, peers a
    // tracker names are not dialled, and a connection already open from an address the new list
    // covers is closed; everyone else is untouched.
    @Test func blocklistRefusesItsAddressesBothWays() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = ManualSession()
        let torrent = content.seed(in: manual, options: TorrentOptions())
        manual.loop.runPending()
        let early = try #require(manual.incoming(from: "10.5.0.9"))
        early.deliver(content.handshake(1))
        let kept = try #require(manual.incoming(from: "10.6.0.1"))
        kept.deliver(content.handshake(2))
        #expect(torrent.peerCount == 2)

        manual.session.setBlocklist(Blocklist(parsing: Array("Bad net:10.5.0.0-10.5.255.255\n192.0.2.0/24\n".utf8)))
        #expect(early.closeReason == .closedLocally && kept.isOpen && torrent.peerCount == 1)
        #expect(manual.session.droppedByReason["blocklist"] == 1)
        #expect(manual.incoming(from: "10.5.1.1") == nil)
        #expect(manual.incoming(from: "10.6.0.2") != nil)

        torrent.addPeers([SocketAddress(host: "192.0.2.7", port: 6881)!, SocketAddress(host: "198.51.100.7", port: 6881)!], from: .tracker)
        #expect(manual.connector.attempts.map(\.remoteAddress.host) == ["198.51.100.7"])
        #expect(manual.session.stats.refusedBlocklisted == 2)

        // An empty list refuses nobody again.
        manual.session.setBlocklist(Blocklist())
        #expect(manual.incoming(from: "10.5.1.1") != nil)
    }

    // Hostile peers are each dropped for their own reason while a good peer is served in full:
    // an oversized length prefix, an out-of-range request, a bitfield with spare bits, a request
    // flood, and a handshake that never completes.
    @Test func dropsHostilePeersAndKeepsServing() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding()
        let count = content.pieceCount
        #expect(count % 8 != 0)
        var spareBits = [UInt8](repeating: 0, count: (count + 7) / 8)
        spareBits[spareBits.count - 1] |= 1
        var flood = PeerMessage.interested.encoded()
        // Distinct 8 KiB requests (a repeated one is ignored), far more than the 1 MiB of output
        // the seeder queues before it waits for the peer to read.
        for index in 0..<2_500 { PeerMessage.request(content.block(index % count, index / count, 8_192)).encode(into: &flood) }
        let scripts: [(bytes: [UInt8], reason: String)] = [
            (content.handshake(1) + [0x10, 0, 0, 0, 7], "wire_error"),
            (content.handshake(2) + PeerMessage.request(content.block(count)).encoded(), "invalid_request"),
            (content.handshake(3, fast: false) + PeerMessage.bitfield(spareBits).encoded(), "bad_bitfield"),
            // The flooder never reads: what it asked for backs up until the queue overflows.
            (content.handshake(4) + flood, "request_flood"),
            (Array(content.handshake(5)[..<30]), "handshake_timeout"),
        ]
        var hostile: [FakeConnection] = []
        for (index, script) in scripts.enumerated() {
            let peer = try #require(manual.incoming(from: "10.0.2.\(index)"))
            peer.deliver(script.bytes)
            hostile.append(peer)
        }
        let good = try #require(manual.incoming(from: "10.0.3.1"))
        good.deliver(content.handshake(9) + PeerMessage.interested.encoded())
        #expect(readMessages(good, pieceCount: count, handshake: true).1 == [.haveAll, .unchoke])
        var received: [UInt8] = []
        for piece in 0..<count {
            let length = content.metainfo.info.layout.length(of: PieceIndex(piece))
            good.deliver(PeerMessage.request(content.block(piece, 0, length)).encoded())
            for message in readMessages(good, pieceCount: count).1 {
                if case .piece(_, let bytes) = message { received += bytes }
            }
        }
        manual.loop.advance(by: .seconds(21))
        #expect(hostile.allSatisfy { $0.closeReason == .closedLocally })
        var expected: [String: Int] = [:]
        for script in scripts { expected[script.reason, default: 0] += 1 }
        #expect(manual.session.droppedByReason == expected)
        let servedInFull = received == content.stream
        #expect(servedInFull)
        #expect(good.isOpen)
    }

    // With one regular slot: the first interested peer is unchoked at once, the second waits;
    // at the first rechoke (10 s) the optimistic slot serves the second; a third stays choked.
    @Test func chokesToItsSlots() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding { $0.unchokeSlots = 1 }
        var peers: [FakeConnection] = []
        for n in 1...3 {
            let peer = try #require(manual.incoming(from: "10.0.4.\(n)"))
            peer.deliver(content.handshake(UInt8(n)) + PeerMessage.interested.encoded())
            peers.append(peer)
        }
        func unchoked(_ peer: FakeConnection) -> Bool { readMessages(peer, pieceCount: content.pieceCount, handshake: true).1.contains(.unchoke) }
        #expect(peers.map(unchoked) == [true, false, false])
        #expect(manual.session.status.unchoked == 1 && manual.session.status.interested == 3)
        manual.loop.advance(by: .seconds(10))
        #expect(manual.session.status.unchoked == 2)
        #expect(peers.dropFirst().map { unchoked($0) }.filter { $0 }.count == 1)
    }

    // Shutdown closes every peer and leaves no timer behind.
    @Test func shutdownClosesEverythingAndStopsTimers() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding()
        let peers = (1...3).compactMap { manual.incoming(from: "10.0.5.\($0)") }
        peers[0].deliver(content.handshake(1))
        manual.session.shutdown()
        #expect(peers.allSatisfy { $0.closeReason == .closedLocally })
        #expect(manual.loop.pendingCount == 0)
        #expect(manual.incoming(from: "10.0.5.9") == nil)
    }

    // 10,000 torrents with no peers cost no timers and no tick work; a peer for one of them is
    // routed to it and makes only that one tick; removing them all leaves nothing running.
    @Test func tenThousandIdleTorrentsCostNoTimers() throws {
        let manual = ManualSession()
        let session = manual.session
        let baseline = manual.loop.pendingCount
        var hashes: [InfoHash] = []
        for index in 0..<10_000 {
            var builder = MetainfoBuilder(singleFile: "t\(index).bin", length: 16_384, pieceLength: 16_384)
            builder.pieceHashes = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 20)
            builder.comment = "\(index)"
            let metainfo = try MetainfoLoader.parse(builder.encode(), path: "t\(index)")
            session.add(metainfo, location: ContentLocation(metainfo: metainfo, directory: "/nonexistent"), have: Bitfield(count: 1, allSet: true))
            hashes.append(metainfo.infoHash)
        }
        #expect(session.torrentCount == 10_000 && Set(hashes).count == 10_000)
        // They start together in one task on the next turn, and then nothing of theirs is pending.
        #expect(manual.loop.pendingCount == baseline + 1)
        manual.loop.runPending()
        #expect(manual.loop.pendingCount == baseline && session.tickingCount == 0)
        manual.loop.advance(by: .seconds(60))
        #expect(session.tickingCount == 0)

        let peer = try #require(manual.incoming())
        peer.deliver(Handshake(infoHash: hashes[5_000], peerID: testPeerID(1), extensions: false).encoded())
        #expect(readMessages(peer, pieceCount: 1, handshake: true).0?.infoHash == hashes[5_000])
        #expect(session.tickingCount == 1)
        peer.peerClose()
        manual.loop.advance(by: .seconds(1))
        #expect(session.tickingCount == 0)

        for hash in hashes { session.remove(hash) }
        #expect(session.torrentCount == 0 && manual.loop.pendingCount == baseline)
    }

    // Downloading on virtual time from three seeders, one of which corrupts every block: the
    // liar is banned and dropped, the files on disk are exactly the content, and the honest
    // seeders are let go once we are a seed too.
    @Test func downloadsAndBansACorruptingSeeder() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let target = try TemporaryDirectory()
        defer { target.cleanup() }
        let manual = ManualSession()
        let torrent = manual.session.add(
            content.metainfo, location: ContentLocation(metainfo: content.metainfo, directory: target.path),
            have: Bitfield(count: content.pieceCount), download: DownloadOptions())
        // The liar is asked first (for every block), so its lies arrive before any honest copy.
        let hosts = ["10.0.6.66", "10.0.6.1", "10.0.6.3"]
        var seeders: [FakeConnection] = []
        var inbox: [[PeerMessage]] = []
        for (n, host) in hosts.enumerated() {
            let seeder = try #require(manual.incoming(from: host))
            seeder.deliver(content.handshake(UInt8(n + 1)) + PeerMessage.haveAll.encoded() + PeerMessage.unchoke.encoded())
            let (handshake, messages) = readMessages(seeder, pieceCount: content.pieceCount, handshake: true)
            #expect(handshake?.infoHash == content.metainfo.infoHash && messages.contains(.interested))
            inbox.append(messages)
            seeders.append(seeder)
        }
        for _ in 0..<500 where torrent.isDownloading {
            for (index, (seeder, host)) in zip(seeders, hosts).enumerated() where seeder.isOpen {
                let got = inbox[index] + readMessages(seeder, pieceCount: content.pieceCount).1
                inbox[index] = []
                for case .request(let request) in got {
                    let start = request.piece.value * 16_384 + request.offset
                    var block = Array(content.stream[start..<start + request.length])
                    if host == "10.0.6.66" { block[0] ^= 0xFF }
                    seeder.deliver(PeerMessage.piece(request, block[...]).encoded())
                }
            }
            manual.settle()
            manual.loop.advance(by: .milliseconds(100))
        }
        #expect(!torrent.isDownloading)
        let first = try FileContents.readToEnd(target.path + "/content/a.bin", limit: 1 << 20)
        let second = try FileContents.readToEnd(target.path + "/content/b/c.bin", limit: 1 << 20)
        let intact = first + second == content.stream
        #expect(intact)
        #expect(torrent.bannedPeers == ["10.0.6.66"] && torrent.hashFailures >= 1)
        #expect(manual.session.stats.hashFailures == torrent.hashFailures)
        #expect(seeders[0].closeReason == .closedLocally)
        #expect(manual.session.droppedByReason["bad_data"] == 1)
        #expect(manual.session.status.downloadedBytes == Int64(content.stream.count))
        // Both honest seeders are closed as seeds like us.
        #expect(manual.session.droppedByReason["both_seeds"] == 2)
    }
}
