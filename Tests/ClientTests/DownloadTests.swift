import Foundation
import Reactor
import Testing
import TorrentCore

import ReactorTesting
@testable import Client

/// A multi-file torrent, seeders on their own loopback addresses and a downloading session, all
/// on one loop.
final class SwarmFixture {
    let directory: TemporaryDirectory
    let metainfo: Metainfo
    let loop: EventLoop
    let logLines = LogLines()
    let sizes = [300_000, 0, 170_001]
    private(set) var sessions: [Session] = []

    init(pieceLength: Int = 32_768) throws {
        directory = try TemporaryDirectory()
        for (index, size) in sizes.enumerated() {
            try directory.write("good/content/f\(index).bin", patternBytes(size, seed: UInt64(index + 1)))
        }
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        var create = CreateOptions()
        create.pieceLength = pieceLength
        let bytes = try TorrentCreator.create(try ContentScan(path: directory.path + "/good/content"), options: create, pool: pool)
        metainfo = try MetainfoLoader.parse(bytes, path: "fixture")
        loop = try EventLoop()
    }

    /// The content as one stream.
    var stream: [UInt8] { sizes.enumerated().flatMap { patternBytes($0.element, seed: UInt64($0.offset + 1)) } }

    func session(host: String) throws -> Session {
        var options = SessionOptions()
        options.listen = SocketAddress(host: host, port: 0)!
        let lines = logLines
        let session = try Session(loop: loop, options: options, log: Log(minimum: .info) { lines.append("\(host) \($0)") })
        sessions.append(session)
        return session
    }

    /// A seeder at `host` serving the content under `subdirectory` (claiming every piece).
    @discardableResult
    func seeder(host: String, subdirectory: String = "good") throws -> Session {
        let session = try session(host: host)
        session.add(
            metainfo, location: ContentLocation(metainfo: metainfo, directory: directory.path + "/" + subdirectory),
            have: Bitfield(count: metainfo.info.pieceCount, allSet: true))
        return session
    }

    /// Writes content of the right sizes but wrong bytes under `subdirectory`.
    func writeCorruptCopy(_ subdirectory: String) throws {
        for (index, size) in sizes.enumerated() {
            try directory.write("\(subdirectory)/content/f\(index).bin", patternBytes(size, seed: UInt64(index + 100)))
        }
    }

    /// What landed in `subdirectory`, as one stream (nil if a file is missing).
    func downloaded(_ subdirectory: String) -> [UInt8]? {
        var result: [UInt8] = []
        for index in sizes.indices {
            guard let data = FileManager.default.contents(atPath: "\(directory.path)/\(subdirectory)/content/f\(index).bin")
            else { return nil }
            result += data
        }
        return result
    }

    /// Adds a download into `subdirectory` to `session`, connects it to `seeds` and runs the loop
    /// until every wanted piece is in (true) or `timeout` passes (false).
    func download(
        in session: Session, options: DownloadOptions = DownloadOptions(), from seeds: [Session], timeout: Duration = .seconds(20)
    ) -> (torrent: Torrent, finished: Bool) {
        let torrent = session.add(
            metainfo, location: ContentLocation(metainfo: metainfo, directory: directory.path + "/out"),
            have: Bitfield(count: metainfo.info.pieceCount), download: options)
        var finished = false
        torrent.downloadFinished = { finished = true }
        torrent.connect(to: seeds.map(\.listenAddress))
        return (torrent, loop.run(until: { finished }, timeout: timeout))
    }

    func cleanup() {
        for session in sessions { session.shutdown() }
        directory.cleanup()
    }
}

@Suite(.serialized) struct DownloadTests {
    // A download from one seeder: every byte lands, verified, the resume file claims every
    // piece, and the downloader then serves as a seed (it sends Have for each piece as it goes).
    @Test func downloadsFromASeeder() throws {
        let swarm = try SwarmFixture()
        defer { swarm.cleanup() }
        let seed = try swarm.seeder(host: "127.0.0.2")
        let leech = try swarm.session(host: "127.0.0.1")
        var options = DownloadOptions()
        let store = ResumeStore(directory: swarm.directory.path + "/state")
        options.resume = store
        let (torrent, finished) = swarm.download(in: leech, options: options, from: [seed])
        #expect(finished)
        let matches = swarm.downloaded("out") == swarm.stream
        #expect(matches, "downloaded bytes differ")
        #expect(torrent.have.isFull && !torrent.isDownloading && torrent.hashFailures == 0)
        #expect(torrent.downloadedBytes == swarm.metainfo.info.totalLength)
        // The final resume save is on disk and claims everything, for these exact files.
        var saved = false
        torrent.saveResume { saved = true }
        #expect(swarm.loop.run(until: { saved }, timeout: .seconds(5)))
        let location = ContentLocation(metainfo: swarm.metainfo, directory: swarm.directory.path + "/out")
        #expect(store.trustedPieces(swarm.metainfo, location: location)?.isFull == true)
        // The empty file exists too.
        #expect(FileManager.default.fileExists(atPath: swarm.directory.path + "/out/content/f1.bin"))
    }

    // A seeder that sends wrong bytes for every block: its pieces fail the hash check, it is
    // banned after the second, and the download still completes with the right bytes from the
    // honest seeder. Pieces span two blocks, so some mix both seeders' blocks; comparing a failed
    // copy against the good one tells who was wrong, and the honest seeder is never banned.
    @Test func bansAPeerThatSendsCorruptData() throws {
        let swarm = try SwarmFixture()
        defer { swarm.cleanup() }
        try swarm.writeCorruptCopy("bad")
        let honest = try swarm.seeder(host: "127.0.0.2")
        let liar = try swarm.seeder(host: "127.0.0.3", subdirectory: "bad")
        let leech = try swarm.session(host: "127.0.0.1")
        let (torrent, finished) = swarm.download(in: leech, from: [liar, honest], timeout: .seconds(30))
        #expect(finished)
        let matches = swarm.downloaded("out") == swarm.stream
        #expect(matches, "downloaded bytes differ")
        #expect(torrent.hashFailures >= 2)
        #expect(torrent.bannedPeers == ["127.0.0.3"])
        #expect(swarm.logLines.all.contains { $0.contains("peer_banned") && $0.contains("127.0.0.3") })
        // A banned peer cannot come back.
        torrent.connect(to: [liar.listenAddress])
        _ = swarm.loop.run(until: { false }, timeout: .milliseconds(300))
        #expect(torrent.peerCount <= 1)
    }

    // --only/--skip as piece priorities: a piece is wanted if any wanted file has bytes in it.
    @Test func fileSelectionBecomesPiecePriorities() throws {
        let swarm = try SwarmFixture()
        defer { swarm.cleanup() }
        let info = swarm.metainfo.info
        let onlyFirst = try #require(try FileSelection.priorities(swarm.metainfo, only: ["*f0.bin"], skip: []))
        let firstPieces = try #require(info.layout.pieces(of: FileIndex(0)))
        for piece in 0..<info.pieceCount {
            #expect((onlyFirst[piece] > 0) == firstPieces.contains(PieceIndex(piece)), "piece \(piece)")
        }
        let skipFirst = try #require(try FileSelection.priorities(swarm.metainfo, only: [], skip: ["f0.bin"]))
        let lastPieces = try #require(info.layout.pieces(of: FileIndex(2)))
        // The piece shared by f0 and f2 stays wanted: f2 needs it.
        for piece in 0..<info.pieceCount {
            #expect((skipFirst[piece] > 0) == lastPieces.contains(PieceIndex(piece)), "piece \(piece)")
        }
        #expect(try FileSelection.priorities(swarm.metainfo, only: [], skip: []) == nil)
        #expect(throws: DownloadError.self) { try FileSelection.priorities(swarm.metainfo, only: ["*.mkv"], skip: []) }
    }

    // A download of one file out of three finishes when that file's pieces are in, with its bytes.
    @Test func downloadsOnlyTheSelectedFile() throws {
        let swarm = try SwarmFixture()
        defer { swarm.cleanup() }
        let seed = try swarm.seeder(host: "127.0.0.2")
        let leech = try swarm.session(host: "127.0.0.1")
        var options = DownloadOptions()
        options.piecePriorities = try FileSelection.priorities(swarm.metainfo, only: ["*f2.bin"], skip: [])
        let (torrent, finished) = swarm.download(in: leech, options: options, from: [seed])
        #expect(finished)
        let wanted = FileManager.default.contents(atPath: swarm.directory.path + "/out/content/f2.bin").map(Array.init)
        #expect(wanted == patternBytes(swarm.sizes[2], seed: 3))
        #expect(!torrent.have.isFull)
        #expect(torrent.downloadedBytes < swarm.metainfo.info.totalLength)
    }
}
