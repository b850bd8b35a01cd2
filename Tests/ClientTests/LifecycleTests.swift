import Reactor
import ReactorTesting
import Testing
import TorrentCore

@testable import Client

@Suite struct LifecycleTests {
    // Peers given by hand are dialled on the next turn; a refused dial backs off 30 s before
    // the next attempt; a dial that connects and shakes hands joins the torrent.
    @Test func dialsPeersWithBackoff() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = ManualSession()
        var options = TorrentOptions()
        let remote = SocketAddress(host: "10.9.9.9", port: 6881)!
        options.peers = [remote]
        let torrent = content.seed(in: manual, options: options)
        manual.loop.runPending()
        #expect(manual.connector.attempts.map(\.remoteAddress) == [remote])
        manual.connector.attempts[0].refuse()
        manual.loop.advance(by: .seconds(29))
        #expect(manual.connector.attempts.count == 1)
        manual.loop.advance(by: .seconds(2))
        #expect(manual.connector.attempts.count == 2)
        let connection = manual.connector.attempts[1]
        connection.makeConnection()
        // We dialled, so we speak first; the peer answers with the same torrent.
        #expect(readMessages(connection, pieceCount: content.pieceCount, handshake: true).0?.infoHash == content.metainfo.infoHash)
        connection.deliver(content.handshake(7))
        #expect(torrent.peerCount == 1 && connection.isOpen)
        // Connected: not dialled again.
        manual.loop.advance(by: .seconds(60))
        #expect(manual.connector.attempts.count == 2)
        #expect(manual.session.stats.dialAttempts == 2 && manual.session.stats.dialFailures == 1)
    }

    // A tracker naming 10,000 peers: dials go out under the session's half-open budget, a few
    // dozen at a time (it once opened all 10,000 at once after a 40 s freeze of the loop), more
    // as attempts end; a shutdown meanwhile ends at once.
    @Test func tenThousandPeersAreDialledAtAPace() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = ManualSession()
        let torrent = content.seed(in: manual, options: TorrentOptions())
        manual.loop.runPending()
        let addresses = (0..<10_000).map { SocketAddress(host: "10.\($0 / 250 % 250).\($0 % 250).1", port: UInt16(6000 + $0 % 1000))! }
        torrent.addPeers(addresses, from: .tracker)
        #expect(manual.connector.attempts.count == Session.maxHalfOpen)
        for attempt in manual.connector.attempts { attempt.refuse() }
        manual.loop.advance(by: .seconds(1))
        #expect(manual.connector.attempts.count == 2 * Session.maxHalfOpen)
        #expect(Set(manual.connector.attempts.map(\.remoteAddress)).count == 2 * Session.maxHalfOpen)
        var stopped = false
        manual.session.shutdown { stopped = true }
        manual.settle()
        #expect(stopped)
        manual.loop.advance(by: .seconds(5))
        #expect(manual.connector.attempts.count == 2 * Session.maxHalfOpen)
    }

    // A seed with a seeding-time limit stops by itself when it is reached: its peers are closed,
    // its owner hears why, and it is no longer ticked.
    @Test func seedTimeLimitStopsTheTorrent() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = ManualSession()
        var options = TorrentOptions()
        options.seedTimeLimit = .seconds(5)
        let torrent = content.seed(in: manual, options: options)
        var heard: [StopReason] = []
        torrent.stopped = { heard.append($0) }
        manual.loop.runPending()
        let peer = try #require(manual.incoming())
        peer.deliver(content.handshake(1))
        manual.loop.advance(by: .seconds(4))
        #expect(torrent.phase == .running && peer.isOpen)
        manual.loop.advance(by: .seconds(2))
        #expect(torrent.phase == .stopped(.seedTimeReached) && heard == [.seedTimeReached])
        #expect(peer.closeReason == .closedLocally && manual.session.tickingCount == 0)
        // Started again, it runs (and its limit counts from the new start).
        manual.session.start(content.metainfo.infoHash)
        #expect(torrent.phase == .running)
    }

    // The idle limit counts from the last upload: a peer fetching a block at 8 s keeps a 10 s
    // limit from firing at 10 s; it fires 10 s after that block.
    @Test func idleLimitCountsFromTheLastUpload() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = ManualSession()
        var options = TorrentOptions()
        options.seedIdleLimit = .seconds(10)
        let torrent = content.seed(in: manual, options: options)
        manual.loop.runPending()
        let peer = try #require(manual.incoming())
        peer.deliver(content.handshake(1) + PeerMessage.interested.encoded())
        manual.loop.advance(by: .seconds(8))
        peer.deliver(PeerMessage.request(content.block(0)).encoded())
        manual.loop.advance(by: .seconds(4))
        #expect(torrent.phase == .running)
        manual.loop.advance(by: .seconds(8))
        #expect(torrent.phase == .stopped(.idleReached))
    }

    // The orderly shutdown ends with every peer closed, every timer gone, and then tells its
    // caller; a torrent's own stop hears `.requested`.
    @Test func orderlyShutdownCompletes() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding()
        let torrent = try #require(manual.session.torrent(for: content.metainfo.infoHash))
        var heard: [StopReason] = []
        torrent.stopped = { heard.append($0) }
        manual.loop.runPending()
        let peer = try #require(manual.incoming())
        peer.deliver(content.handshake(1))
        var done = false
        manual.session.shutdown { done = true }
        manual.settle()
        #expect(done && heard == [.requested] && peer.closeReason == .closedLocally)
        #expect(manual.loop.pendingCount == 0)
    }

    // Added without known pieces, a torrent is hash-checked in batches on the pool: its phase
    // shows the progress, peers are refused meanwhile, a damaged piece is found, and it runs
    // afterwards, serving what verified; `verify` checks it again the same way.
    @Test func checksBeforeRunning() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        // Two batches of 16 MiB: 1,030 pieces of 16 KiB.
        var bytes = patternBytes(1_030 * 16_384, seed: 8)
        try directory.write("big.bin", bytes)
        let metainfo = try makeTorrent(of: directory.path + "/big.bin")
        bytes[3 * 16_384 + 5] ^= 0xFF
        try directory.write("big.bin", bytes)

        let stepped = SteppedOffloader()
        let manual = ManualSession(offloader: { _ in stepped })
        let torrent = manual.session.add(metainfo, location: ContentLocation(metainfo: metainfo, directory: directory.path), options: TorrentOptions())
        #expect(torrent.phase == .checking(piecesDone: 0, of: 1_030))
        let early = try #require(manual.incoming())
        early.deliver(Handshake(infoHash: metainfo.infoHash, peerID: testPeerID(1), extensions: false).encoded())
        #expect(early.closeReason == .closedLocally)
        // Both batches are on the pool at once; each hand-back moves the progress on.
        #expect(stepped.waiting == 2)
        stepped.step()
        #expect(torrent.phase == .checking(piecesDone: 1_024, of: 1_030))
        stepped.step()
        #expect(torrent.phase == .running)
        #expect(torrent.have.setCount == 1_029 && !torrent.have[PieceIndex(3)])
        let peer = try #require(manual.incoming(from: "10.0.0.2"))
        peer.deliver(Handshake(infoHash: metainfo.infoHash, peerID: testPeerID(2), extensions: false).encoded())
        guard case .bitfield(let field) = readMessages(peer, pieceCount: 1_030, handshake: true).1.first else {
            Issue.record("no bitfield")
            return
        }
        #expect(Bitfield(bytes: field, count: 1_030) == torrent.have)

        manual.session.verify(metainfo.infoHash)
        #expect(peer.closeReason == .closedLocally)
        #expect(torrent.phase == .checking(piecesDone: 0, of: 1_030))
        while stepped.waiting > 0 { stepped.step() }
        #expect(torrent.phase == .running && torrent.have.setCount == 1_029)
    }

    // A torrent's own caps are split evenly among its peers, follow them as they come and go,
    // and go when the caps go; its own peer limit refuses a peer beyond it.
    @Test func perTorrentLimits() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = ManualSession()
        let torrent = content.seed(in: manual, options: TorrentOptions())
        manual.loop.runPending()
        manual.session.setTorrentLimits(content.metainfo.infoHash, upload: 100_000, download: 40_000, peers: 4)
        var connected: [FakeConnection] = []
        for index in 1...4 {
            let peer = try #require(manual.incoming(from: "10.0.0.\(index)"))
            peer.deliver(content.handshake(UInt8(index)))
            connected.append(peer)
        }
        #expect(torrent.peerCount == 4)
        let quarter = RateLimit(readBytesPerSecond: 10_000, writeBytesPerSecond: 25_000)
        #expect(connected.allSatisfy { $0.rateLimit == quarter })
        // A fifth is over this torrent's limit of 4.
        let fifth = try #require(manual.incoming(from: "10.0.0.5"))
        fifth.deliver(content.handshake(5))
        #expect(!fifth.isOpen && torrent.peerCount == 4)
        // One leaves: the other three get a third each from the next tick.
        connected[0].close()
        manual.loop.advance(by: .seconds(1))
        #expect(connected[1...].allSatisfy { $0.rateLimit == RateLimit(readBytesPerSecond: 13_333, writeBytesPerSecond: 33_333) })
        manual.session.setTorrentLimits(content.metainfo.infoHash, upload: nil, download: nil, peers: nil)
        #expect(connected[1...].allSatisfy { $0.rateLimit == nil })
    }

    // Torrents added with equal options share one copy of them; a torrent's own change stays its own.
    @Test func equalOptionsAreKeptOnce() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        try content.directory.write("other/x.bin", patternBytes(40_000, seed: 3))
        let other = try makeTorrent(of: content.directory.path + "/other")
        let manual = ManualSession()
        var options = TorrentOptions()
        options.seedRatioLimit = 2
        let first = content.seed(in: manual, options: options)
        let second = manual.session.add(
            other, location: ContentLocation(metainfo: other, directory: content.directory.path),
            have: Bitfield(count: other.info.pieceCount, allSet: true), options: options)
        #expect(first.sharesOptions(with: second))
        manual.session.setTorrentLimits(content.metainfo.infoHash, upload: 1_000, download: nil, peers: nil)
        #expect(first.options.uploadLimit == 1_000 && second.options.uploadLimit == nil && second.options.seedRatioLimit == 2)
        #expect(!first.sharesOptions(with: second) && first.options.seedRatioLimit == 2)
    }
}
