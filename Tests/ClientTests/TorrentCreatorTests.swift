import Foundation
import Reactor
import Testing
import TorrentCore

import ReactorTesting
@testable import Client

@Suite struct TorrentCreatorTests {
    private func makeTree(_ directory: TemporaryDirectory) throws {
        try directory.write("content/a/b", patternBytes(70_000, seed: 1))
        try directory.write("content/a-c", patternBytes(16_384, seed: 2))
        try directory.write("content/B/x", patternBytes(1, seed: 3))
        try directory.write("content/.hidden", patternBytes(5_000, seed: 4))
        try directory.write("content/empty", [])
    }

    // Files are ordered by whole path as bytes ("a-c" before "a/b", "B" before "a"), as mktorrent
    // orders them; hidden and empty files are included.
    @Test func scanOrdersFilesLikeMktorrent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try makeTree(directory)
        let scan = try ContentScan(path: directory.path + "/content/")
        #expect(scan.name == "content")
        #expect(!scan.isSingleFile)
        #expect(scan.files.map { $0.path.joined(separator: "/") } == [".hidden", "B/x", "a-c", "a/b", "empty"])
        #expect(scan.totalLength == 70_000 + 16_384 + 1 + 5_000)
    }

    // The piece hashes in a created torrent are the SHA-1 of the concatenated file bytes, cut
    // at piece boundaries, whatever the thread count.
    @Test func createdPieceHashesMatchTheContent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try makeTree(directory)
        let scan = try ContentScan(path: directory.path + "/content")
        let stream = scan.paths.flatMap { FileManager.default.contents(atPath: $0).map(Array.init) ?? [] }
        for threads in [1, 3] {
            let pool = WorkerPool(threads: threads)
            defer { pool.shutdown() }
            var options = CreateOptions()
            options.pieceLength = 16_384
            options.trackerTiers = [["http://127.0.0.1:1/announce"]]
            var lastProgress = (0, 0, Int64(0))
            let bytes = try TorrentCreator.create(scan, options: options, pool: pool) { lastProgress = ($0, $1, $2) }
            let metainfo = try MetainfoLoader.parse(bytes, path: "test")
            #expect(metainfo.info.pieceCount == (stream.count + 16_383) / 16_384)
            for piece in 0..<metainfo.info.pieceCount {
                let slice = stream[piece * 16_384..<min(stream.count, (piece + 1) * 16_384)]
                #expect(Array(metainfo.info.hash(of: PieceIndex(piece))) == Digest.hash(.sha1, slice), "piece \(piece)")
            }
            #expect(lastProgress.0 == metainfo.info.pieceCount && lastProgress.2 == Int64(stream.count))
            #expect(metainfo.trackerTiers == [["http://127.0.0.1:1/announce"]])
        }
    }

    // A single file becomes a single-file torrent named after the file.
    @Test func singleFileTorrent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("disk.img", patternBytes(100_000, seed: 9))
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        let bytes = try TorrentCreator.create(
            try ContentScan(path: directory.path + "/disk.img"), options: CreateOptions(), pool: pool)
        let metainfo = try MetainfoLoader.parse(bytes, path: "test")
        #expect(metainfo.info.isSingleFile)
        #expect(metainfo.info.name == "disk.img")
        #expect(metainfo.info.pieceLength == 16_384)
        #expect(metainfo.creationDate == nil)
    }

    // Nothing to share, a missing path, or a bad piece length each give a clear error.
    @Test func refusesUnusableInput() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("empties/a", [])
        #expect(throws: CreateError.noData(directory.path + "/empties")) {
            try ContentScan(path: directory.path + "/empties")
        }
        #expect(throws: CreateError.notFound(directory.path + "/nope")) { try ContentScan(path: directory.path + "/nope") }
        try directory.write("one", [1])
        let pool = WorkerPool(threads: 1)
        defer { pool.shutdown() }
        var options = CreateOptions()
        options.pieceLength = 20_000
        #expect(throws: CreateError.invalidPieceLength(20_000)) {
            try TorrentCreator.create(try ContentScan(path: directory.path + "/one"), options: options, pool: pool)
        }
    }
}
