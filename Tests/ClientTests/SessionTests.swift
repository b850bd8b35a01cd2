import Foundation
import Reactor
import Testing
import TorrentCore

import ReactorTesting
@testable import Client

/// A peer driven by a script, for talking to a real Session over loopback.
final class ScriptedPeer: ConnectionHandler {
    var received = ByteQueue()
    var closeReason: CloseReason?
    var handshake: Handshake?
    var messages: [PeerMessage] = []
    var onMade: ((any Connection) -> Void)?
    var onMessage: ((any Connection, PeerMessage) -> Void)?
    private let decoder = PeerMessageDecoder(maxMessageLength: 1 << 20)

    func connectionMade(_ connection: any Connection) { onMade?(connection) }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {
        received.append(input.readAll())
        if handshake == nil { handshake = try? Handshake.decode(from: &received) }
        guard handshake != nil else { return }
        while let message = try? decoder.next(from: &received) {
            messages.append(message)
            onMessage?(connection, message)
        }
    }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) { closeReason = reason }
}

/// Content on disk, its torrent, and a Session seeding it on 127.0.0.1.
struct SeedFixture {
    let directory: TemporaryDirectory
    let metainfo: Metainfo
    let loop: EventLoop
    let session: Session
    let logLines: LogLines

    let firstFileSize: Int

    init(handshakeTimeout: Duration = .seconds(20), firstFileSize: Int = 150_000) throws {
        self.firstFileSize = firstFileSize
        directory = try TemporaryDirectory()
        try directory.write("content/a.bin", patternBytes(firstFileSize, seed: 1))
        try directory.write("content/b/c.bin", patternBytes(90_000, seed: 2))
        metainfo = try makeTorrent(of: directory.path + "/content")
        loop = try EventLoop()
        var options = SessionOptions()
        options.listen = SocketAddress(host: "127.0.0.1", port: 0)!
        // Every test peer connects from 127.0.0.1.
        options.maxPeersPerAddress = 1000
        options.handshakeTimeout = handshakeTimeout
        let lines = LogLines()
        logLines = lines
        session = try Session(loop: loop, options: options, log: Log(minimum: .debug) { lines.append($0) })
        session.add(
            metainfo, location: ContentLocation(metainfo: metainfo, directory: directory.path),
            have: Bitfield(count: metainfo.info.pieceCount, allSet: true))
    }

    /// The whole content as one byte stream.
    var stream: [UInt8] { patternBytes(firstFileSize, seed: 1) + patternBytes(90_000, seed: 2) }

    func handshake() -> [UInt8] {
        Handshake(infoHash: metainfo.infoHash, peerID: Array("-TT0001-".utf8) + Array(repeating: UInt8.random(in: 0...255), count: 12)).encoded()
    }

    func cleanup() {
        session.shutdown()
        directory.cleanup()
    }
}

final class LogLines: @unchecked Sendable {
    private let lock = ConditionLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

/// A well-behaved leecher: handshake, interested, then every block with at most 64 requests in
/// flight (within the seeder's advertised queue), checking the data.
func makeDownloader(_ fixture: SeedFixture) -> (ScriptedPeer, () -> [UInt8]?) {
    let peer = ScriptedPeer()
    let info = fixture.metainfo.info
    var data = [UInt8](repeating: 0, count: Int(info.totalLength))
    var received = 0
    var pending: [BlockRequest] = []
    for piece in 0..<info.pieceCount {
        let length = info.layout.length(of: PieceIndex(piece))
        for offset in stride(from: 0, to: length, by: 16_384) {
            pending.append(BlockRequest(piece: PieceIndex(piece), offset: offset, length: min(16_384, length - offset)))
        }
    }
    pending.reverse()
    var inFlight = 0
    func requestMore(_ connection: any Connection) {
        var bytes: [UInt8] = []
        while inFlight < 64, let next = pending.popLast() {
            PeerMessage.request(next).encode(into: &bytes)
            inFlight += 1
        }
        if !bytes.isEmpty { connection.write(bytes) }
    }
    peer.onMade = { connection in
        connection.write(fixture.handshake() + PeerMessage.interested.encoded())
    }
    peer.onMessage = { connection, message in
        switch message {
        case .unchoke:
            requestMore(connection)
        case .piece(let request, let bytes):
            let start = request.piece.value * info.pieceLength + request.offset
            data.replaceSubrange(start..<start + bytes.count, with: bytes)
            received += bytes.count
            inFlight -= 1
            requestMore(connection)
        default: break
        }
    }
    return (peer, { received == data.count ? data : nil })
}

@Suite(.serialized) struct SessionTests {
    // A leecher that speaks the protocol gets every byte, correct, from the session.
    @Test func servesAWellBehavedPeer() throws {
        let fixture = try SeedFixture()
        defer { fixture.cleanup() }
        let (peer, result) = makeDownloader(fixture)
        fixture.loop.connect(to: fixture.session.listenAddress, handler: peer)
        #expect(fixture.loop.run(until: { result() != nil }, timeout: .seconds(10)))
        let correct = result() == fixture.stream
        #expect(correct, "downloaded bytes differ")
        #expect(peer.messages.contains(.haveAll))
        #expect(peer.handshake?.infoHash == fixture.metainfo.infoHash)
    }

    // The choke state lives while the torrent has peers: made for the first, dropped when the
    // last leaves, made afresh for the next, which is served as the first was. The rest of its
    // activity (peers, rates) goes once its rates fall to zero. Its storage is made at the first
    // request, not before.
    @Test func servesAgainAfterItsLastPeerLeft() throws {
        let fixture = try SeedFixture()
        defer { fixture.cleanup() }
        let torrent = try #require(fixture.session.torrent(for: fixture.metainfo.infoHash))
        #expect(!torrent.holdsChokeState && !torrent.holdsActivity && torrent.unchokedCount == 0 && !torrent.hasStorage)
        for round in 0..<2 {
            let (peer, result) = makeDownloader(fixture)
            var connection: (any Connection)?
            let made = peer.onMade
            peer.onMade = { made?($0); connection = $0 }
            fixture.loop.connect(to: fixture.session.listenAddress, handler: peer)
            #expect(fixture.loop.run(until: { result() != nil }, timeout: .seconds(10)), "round \(round)")
            #expect(result() == fixture.stream && torrent.holdsChokeState && torrent.unchokedCount == 1 && torrent.interestedCount == 1)
            #expect(torrent.hasStorage)
            connection?.close()
            #expect(fixture.loop.run(until: { torrent.peerCount == 0 }, timeout: .seconds(5)))
            #expect(!torrent.holdsChokeState && torrent.unchokedCount == 0 && torrent.interestedCount == 0)
            #expect(fixture.loop.run(until: { !torrent.holdsActivity }, timeout: .seconds(120)), "round \(round): activity kept")
            #expect(torrent.uploadRate == 0 && torrent.peers.isEmpty)
        }
        #expect(torrent.uploadedBytes == Int64(2 * fixture.stream.count))
    }

    // Hostile peers are each dropped with a logged reason while a good peer keeps being served:
    // an oversized length prefix, an out-of-range request, a bitfield with spare bits, a request
    // flood, an unknown info hash, and a handshake that never completes.
    @Test func dropsHostilePeersAndKeepsServing() throws {
        // 40 MB, so a flooder can ask for far more than loopback's socket buffers (~10 MB) hold.
        let fixture = try SeedFixture(handshakeTimeout: .seconds(1), firstFileSize: 40_000_000)
        defer { fixture.cleanup() }
        let pieceCount = fixture.metainfo.info.pieceCount
        var flood: [UInt8] = PeerMessage.interested.encoded()
        for index in 0..<2_500 {
            PeerMessage.request(BlockRequest(piece: PieceIndex(index % pieceCount), offset: index / pieceCount * 8_192, length: 8_192))
                .encode(into: &flood)
        }
        // 40,090,000 bytes in 16 KiB pieces: 2,447 pieces, so the last bitfield byte has spare bits.
        #expect(pieceCount % 8 != 0)
        var spareBits = [UInt8](repeating: 0, count: (pieceCount + 7) / 8)
        spareBits[spareBits.count - 1] |= 1
        let otherHash = Handshake(infoHash: InfoHash(bytes: [UInt8](repeating: 9, count: 20))!, peerID: [UInt8](repeating: 1, count: 20))
        let scripts: [(String, [UInt8], String)] = [
            ("oversized", fixture.handshake() + [0x10, 0, 0, 0, 7], "wire_error"),
            ("out of range", fixture.handshake() + PeerMessage.request(BlockRequest(piece: PieceIndex(pieceCount), offset: 0, length: 16_384)).encoded(), "invalid_request"),
            ("spare bits", fixture.handshake() + PeerMessage.bitfield(spareBits).encoded(), "bad_bitfield"),
            ("flood", fixture.handshake() + flood, "request_flood"),
            ("unknown torrent", otherHash.encoded(), "unknown_torrent"),
            ("stalled handshake", Array(fixture.handshake()[..<30]), "handshake_timeout"),
        ]
        var hostile: [(String, ScriptedPeer)] = []
        for (name, bytes, _) in scripts {
            let peer = ScriptedPeer()
            peer.onMade = { connection in
                connection.write(bytes)
                // The flooder never reads, so what it asked for backs up at the seeder.
                if name == "flood" { connection.pauseReading() }
            }
            fixture.loop.connect(to: fixture.session.listenAddress, handler: peer)
            hostile.append((name, peer))
        }
        let (good, result) = makeDownloader(fixture)
        fixture.loop.connect(to: fixture.session.listenAddress, handler: good)
        let flooderDropped = { fixture.session.droppedByReason["request_flood"] == 1 }
        let finished = fixture.loop.run(
            until: {
                result() != nil && flooderDropped() && hostile.allSatisfy { $0.0 == "flood" || $0.1.closeReason != nil }
            }, timeout: .seconds(20))
        #expect(finished)
        // The flooder reads nothing, so it cannot see its own close; the session's counts say it.
        for (name, peer) in hostile where name != "flood" { #expect(peer.closeReason != nil, "\(name) was not dropped") }
        let served = result() == fixture.stream
        #expect(served, "the good peer was not fully served")
        #expect(good.closeReason == nil)
        var expected: [String: Int] = [:]
        for (_, _, reason) in scripts { expected[reason, default: 0] += 1 }
        #expect(fixture.session.droppedByReason == expected)
    }
}
