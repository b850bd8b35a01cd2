import Foundation
import Reactor
import Testing
import TorrentCore

import ReactorTesting
@testable import Client

@Suite struct DataVerifierTests {
    /// A three-file torrent over `directory/content` with 16 KiB pieces.
    private func setUp(_ directory: TemporaryDirectory) throws -> Metainfo {
        try directory.write("content/one", patternBytes(40_000, seed: 11))
        try directory.write("content/two", patternBytes(30_000, seed: 12))
        try directory.write("content/three", patternBytes(20_000, seed: 13))
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        var options = CreateOptions()
        options.pieceLength = 16_384
        let bytes = try TorrentCreator.create(try ContentScan(path: directory.path + "/content"), options: options, pool: pool)
        return try MetainfoLoader.parse(bytes, path: "test")
    }

    private func verify(_ metainfo: Metainfo, _ directory: TemporaryDirectory) -> VerificationReport {
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        return DataVerifier.verify(metainfo, directory: directory.path, pool: pool)
    }

    // Untouched data verifies completely.
    @Test func intactDataVerifies() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let metainfo = try setUp(directory)
        let report = verify(metainfo, directory)
        #expect(report.isIntact)
        #expect(report.goodPieces.setCount == metainfo.info.pieceCount)
    }

    // One flipped byte fails exactly the piece that holds it and marks only its file damaged.
    // Files in torrent order: one (0..<40000), three (40000..<60000), two (60000..<90000).
    @Test func flippedByteFailsOnePiece() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let metainfo = try setUp(directory)
        var bytes = patternBytes(20_000, seed: 13)
        bytes[10_000] ^= 0xFF  // stream offset 50,000: piece 3 (49,152..<65,536)
        try directory.write("content/three", bytes)
        let report = verify(metainfo, directory)
        #expect(!report.isIntact)
        #expect(report.badPieces == [PieceIndex(3)])
        // Piece 3 also holds the start of "two", so both files are damaged.
        #expect(report.damagedFiles.map { metainfo.info.files[$0.value].path } == [["three"], ["two"]])
        #expect(report.missingFiles.isEmpty && report.wrongSizeFiles.isEmpty)
    }

    // A missing file fails its pieces and is named; a truncated one is reported with its size.
    @Test func missingAndShortFilesAreReported() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let metainfo = try setUp(directory)
        try FileManager.default.removeItem(atPath: directory.path + "/content/one")
        try directory.write("content/two", patternBytes(29_000, seed: 12))
        let report = verify(metainfo, directory)
        #expect(report.missingFiles.map { metainfo.info.files[$0.value].path } == [["one"]])
        #expect(report.wrongSizeFiles.map(\.size) == [29_000])
        // "one" holds pieces 0-2; "two" keeps its first 29,000 bytes, so only its last piece (5) fails.
        #expect(report.badPieces == [0, 1, 2, 5].map(PieceIndex.init))
    }

    // A file that grew still has good pieces, but the data is not intact.
    @Test func grownFileIsNotIntact() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let metainfo = try setUp(directory)
        try directory.write("content/two", patternBytes(30_000, seed: 12) + [1, 2, 3])
        let report = verify(metainfo, directory)
        #expect(report.isComplete)
        #expect(!report.isIntact)
        #expect(report.wrongSizeFiles.map(\.size) == [30_003])
    }
}
