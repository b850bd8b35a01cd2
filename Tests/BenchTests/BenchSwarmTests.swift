import Foundation
import Reactor
import Testing
import TorrentCore

import ReactorTesting
import Client
@testable import Bench

/// A seeder written for the test: serves blocks from memory, chokes the peer after every
/// `chokeEvery` blocks (dropping its requests, as BEP 3 allows) and unchokes it 50 ms later.
final class ChokingSeeder: ConnectionHandler {
    let infoHash: InfoHash
    let stream: [UInt8]
    let pieceLength: Int
    let chokeEvery: Int
    unowned let loop: EventLoop
    private var queue = ByteQueue()
    private var handshook = false
    private var choked = true
    private var served = 0
    private(set) var chokesSent = 0
    private let decoder = PeerMessageDecoder(maxMessageLength: 1 << 20)

    /// Whether it unchokes an interested peer at all.
    let unchokes: Bool

    init(loop: EventLoop, infoHash: InfoHash, stream: [UInt8], pieceLength: Int, chokeEvery: Int, unchokes: Bool = true) {
        self.unchokes = unchokes
        self.loop = loop
        self.infoHash = infoHash
        self.stream = stream
        self.pieceLength = pieceLength
        self.chokeEvery = chokeEvery
    }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {
        queue.append(input.readAll())
        if !handshook {
            guard (try? Handshake.decode(from: &queue)) ?? nil != nil else { return }
            handshook = true
            // No fast extension: requests pending at a choke are silently dropped.
            connection.write(
                Handshake(infoHash: infoHash, peerID: Array(repeating: 7, count: 20), extensions: false, fast: false).encoded()
                    + PeerMessage.bitfield(Bitfield(count: (stream.count + pieceLength - 1) / pieceLength, allSet: true).bytes).encoded())
        }
        while let message = try? decoder.next(from: &queue) {
            switch message {
            case .interested:
                guard unchokes else { break }
                choked = false
                connection.write(PeerMessage.unchoke.encoded())
            case .request(let request) where !choked:
                let start = request.piece.value * pieceLength + request.offset
                connection.write(PeerMessage.piece(request, stream[start..<start + request.length]).encoded())
                served += 1
                if served % chokeEvery == 0 {
                    choked = true
                    chokesSent += 1
                    connection.write(PeerMessage.choke.encoded())
                    loop.schedule(after: .milliseconds(50)) { [weak self] in
                        self?.choked = false
                        connection.write(PeerMessage.unchoke.encoded())
                    }
                }
            default:
                break
            }
        }
    }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) {}
}

@Suite struct BenchSwarmTests {
    /// `stream` written as payload.bin in `directory`, and its torrent in 32 KiB pieces.
    static func payload(_ stream: [UInt8], in directory: TemporaryDirectory, pool: WorkerPool) throws -> Metainfo {
        try directory.write("payload.bin", stream)
        var create = CreateOptions()
        create.pieceLength = 32_768
        return try MetainfoLoader.parse(
            try TorrentCreator.create(try ContentScan(path: directory.path + "/payload.bin"), options: create, pool: pool),
            path: "bench")
    }

    // The load generator survives a seeder that chokes and unchokes it mid-download: requests
    // lost at each choke are asked for again, and every piece it assembles verifies.
    @Test func completesAcrossChokesAndVerifies() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let stream = patternBytes(1_000_000, seed: 21)
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        let metainfo = try Self.payload(stream, in: directory, pool: pool)
        let loop = try EventLoop()
        let seeder = ChokingSeeder(loop: loop, infoHash: metainfo.infoHash, stream: stream, pieceLength: 32_768, chokeEvery: 10)
        let listener = try loop.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!) { _ in seeder }
        var options = BenchOptions(seeder: listener.localAddress)
        options.peers = 1
        options.queue = 16
        options.verify = true
        let swarm = BenchSwarm(loop: loop, metainfo: metainfo, options: options, pool: pool)
        var done = false
        swarm.allFinished = { done = true }
        swarm.start()
        #expect(loop.run(until: { done && swarm.pendingVerifications == 0 }, timeout: .seconds(20)))
        #expect(swarm.totalBytes == Int64(stream.count))
        #expect(swarm.piecesVerified == metainfo.info.pieceCount)
        #expect(swarm.hashFailures == 0)
        #expect(seeder.chokesSent >= 5)
        #expect(swarm.chokes == seeder.chokesSent)
        swarm.stop()
    }

    // With --encrypted the bench speaks MSE/PE: against a Session that requires encryption,
    // every peer completes and every piece verifies (payload read and deciphered, not dropped);
    // unencrypted, the same session gives it nothing.
    @Test func downloadsEncryptedFromASessionThatRequiresIt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        let metainfo = try Self.payload(patternBytes(600_000, seed: 22), in: directory, pool: pool)
        let loop = try EventLoop()
        var sessionOptions = SessionOptions()
        sessionOptions.listen = SocketAddress(host: "127.0.0.1", port: 0)!
        sessionOptions.encryption = .required
        let session = try Session(loop: loop, options: sessionOptions, log: Log(minimum: .error))
        session.add(metainfo, location: ContentLocation(metainfo: metainfo, directory: directory.path),
                    have: Bitfield(count: metainfo.info.pieceCount, allSet: true))
        for encrypted in [true, false] {
            var options = BenchOptions(seeder: session.listenAddress)
            options.peers = 3
            options.verify = encrypted
            options.encrypted = encrypted
            options.duration = .seconds(encrypted ? 20 : 2)
            let swarm = BenchSwarm(loop: loop, metainfo: metainfo, options: options, pool: pool)
            var done = false
            swarm.allFinished = { done = true }
            swarm.start()
            _ = loop.run(until: { done && swarm.pendingVerifications == 0 }, timeout: .seconds(encrypted ? 20 : 2))
            if encrypted {
                #expect(done && swarm.totalBytes == 3 * 600_000)
                #expect(swarm.piecesVerified == 3 * metainfo.info.pieceCount && swarm.hashFailures == 0)
            } else {
                #expect(swarm.totalBytes == 0)
            }
            swarm.stop()
        }
        #expect(session.stats.encryptedPeers == 3)
        session.shutdown()
    }

    // Churn mode against a seeder that serves: peers connect, take their blocks, leave and come
    // back after the pause, none cut short; against one that never unchokes, every peer is
    // counted as stalled.
    @Test func churnPacesItsPeersAndCountsStalls() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let stream = patternBytes(400_000, seed: 23)
        let pool = WorkerPool(threads: 1)
        defer { pool.shutdown() }
        let metainfo = try Self.payload(stream, in: directory, pool: pool)
        let loop = try EventLoop()
        for serving in [true, false] {
            let listener = try loop.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!) { _ in
                ChokingSeeder(
                    loop: loop, infoHash: metainfo.infoHash, stream: stream, pieceLength: 32_768,
                    chokeEvery: Int.max, unchokes: serving)
            }
            var options = BenchOptions(seeder: listener.localAddress)
            options.mode = .churn
            options.peers = 2
            options.churnBlocks = 3
            options.churnPause = .milliseconds(200)
            options.duration = .seconds(1)
            let swarm = BenchSwarm(loop: loop, metainfo: metainfo, options: options, pool: pool)
            swarm.start()
            _ = loop.run(until: { false }, timeout: .milliseconds(1100))
            if serving {
                // Each cycle takes at least the pause: about 1 s / 0.2 s per peer, not hundreds.
                #expect(swarm.churnCycles >= 4 && swarm.churnCycles <= 12)
                #expect(swarm.churnCutShort == 0)
                #expect(swarm.churnLongest > .zero && swarm.churnLongest < .milliseconds(500))
                #expect(swarm.churnStalled(longerThan: .milliseconds(500)) == 0)
            } else {
                #expect(swarm.churnCycles == 0)
                #expect(swarm.churnStalled(longerThan: .milliseconds(500)) == 2)
            }
            swarm.stop()
            listener.close()
        }
    }
}
