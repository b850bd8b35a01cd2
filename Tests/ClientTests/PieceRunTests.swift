import Foundation
import Reactor
import Testing
import TorrentCore

import ReactorTesting
@testable import Client

/// Hashing in place from mappings (`PieceRun`, behind `PieceHasher.hash` and the daemon's
/// `Checker`) against the `pread` path and against digests computed here from the bytes.
@Suite struct PieceRunTests {
    /// Files big enough to be mapped (over 256 KiB in a run), a small one that is read, and a
    /// padding file, laid out in 64 KiB pieces; returns the location and each piece's SHA-1.
    private func makeContent(_ directory: TemporaryDirectory) throws -> (ContentLocation, [[UInt8]]) {
        let lengths: [Int64] = [700_000, 5_000, 60_536, 1_300_000]
        let padding = [false, false, true, false]
        var stream: [UInt8] = []
        var paths: [String] = []
        for (index, length) in lengths.enumerated() {
            let bytes = padding[index] ? [UInt8](repeating: 0, count: Int(length)) : patternBytes(Int(length), seed: UInt64(index + 40))
            stream += bytes
            paths.append(directory.path + "/file\(index)")
            if !padding[index] { try directory.write("file\(index)", bytes) }
        }
        let layout = FileLayout(fileLengths: lengths, pieceLength: 65_536)
        let location = ContentLocation(layout: layout, paths: paths, isPadding: padding)
        let digests = (0..<layout.pieceCount).map { piece in
            let start = piece * 65_536
            return Digest.hash(.sha1, stream[start..<min(start + 65_536, stream.count)])
        }
        return (location, digests)
    }

    private func pool<T>(_ body: (WorkerPool) throws -> T) rethrows -> T {
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        return try body(pool)
    }

    // Every piece hashed in place matches its digest and the pread path's outcome.
    @Test func mappedHashesMatchTheBytes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (location, digests) = try makeContent(directory)
        let outcomes = pool { PieceHasher(pool: $0).hash(location) }
        #expect(outcomes == digests.map(PieceOutcome.digest))
        let reader = PieceRun(location: location)
        for piece in 0..<digests.count {
            #expect(reader.read(PieceIndex(piece)) == outcomes[piece])
        }
        // A chosen, scattered subset comes back in the order asked.
        let chosen = [30, 2, 17, 0].map(PieceIndex.init)
        #expect(pool { PieceHasher(pool: $0).hash(location, pieces: chosen) } == chosen.map { .digest(digests[$0.value]) })
    }

    // A flipped byte in a mapped file fails only its piece; a short file and a missing one are
    // named as such, as the pread path names them.
    @Test func damageIsReportedFromMappings() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (location, digests) = try makeContent(directory)
        var last = patternBytes(1_300_000, seed: 43)
        last[200_000] ^= 1  // stream offset 765,536 + 200,000: piece 14
        try directory.write("file3", Array(last[..<1_000_000]))
        try FileManager.default.removeItem(atPath: directory.path + "/file0")
        let outcomes = pool { PieceHasher(pool: $0).hash(location) }
        // file0 (pieces 0...10) is gone; the last piece of file0 also holds file1.
        for piece in 0...10 { #expect(outcomes[piece] == .missingFile(FileIndex(0))) }
        #expect(Array(outcomes[11...13]) == digests[11...13].map(PieceOutcome.digest))
        #expect(outcomes[14] != .digest(digests[14]))
        if case .digest = outcomes[14] {} else { Issue.record("piece 14 was not hashed: \(outcomes[14])") }
        // file3 now ends at stream offset 1,765,536: piece 26 is short, and every piece after it.
        #expect(outcomes[26...].allSatisfy { $0 == .shortFile(FileIndex(3)) })
        #expect(Array(outcomes[15...25]) == digests[15...25].map(PieceOutcome.digest))
    }

    // One lane's runs, some mapped and some read as the lane's timing chooses: every digest
    // matches, and both methods were timed (the file was just written, so it is resident).
    @Test func runsMappedAndReadAgreeAndAreBothTimed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let bytes = patternBytes(4 << 20, seed: 11)
        try directory.write("big", bytes)
        let layout = FileLayout(fileLengths: [Int64(bytes.count)], pieceLength: 65_536)
        let run = PieceRun(location: ContentLocation(layout: layout, paths: [directory.path + "/big"]))
        let pieces = (0..<layout.pieceCount).map(PieceIndex.init)
        var outcomes: [PieceOutcome] = []
        for start in stride(from: 0, to: pieces.count, by: 8) {
            run.hash(pieces[start..<start + 8]) { _, outcome in outcomes.append(outcome) }
        }
        #expect(outcomes == pieces.map { .digest(Digest.hash(.sha1, bytes[$0.value * 65_536..<($0.value + 1) * 65_536])) })
        #expect(run.readMethodChoice.mappedCost != nil)
        #expect(run.readMethodChoice.readCost != nil)
    }

    // A file cut short while its run is mapped: the vanished pages raise SIGBUS, which is caught,
    // and the pieces past the new end are reported short instead of the process dying.
    @Test func fileTruncatedWhileMappedIsReportedShort() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let bytes = patternBytes(2 << 20, seed: 7)
        try directory.write("big", bytes)
        let path = directory.path + "/big"
        let layout = FileLayout(fileLengths: [Int64(bytes.count)], pieceLength: 65_536)
        let location = ContentLocation(layout: layout, paths: [path])
        let run = PieceRun(location: location)
        let faultsBefore = MappedRegion.faults
        var outcomes: [PieceOutcome] = []
        run.hash(ArraySlice((0..<layout.pieceCount).map(PieceIndex.init))) { index, outcome in
            outcomes.append(outcome)
            // Pieces are hashed two at a time: cut after the first pair.
            if index == 1 { #expect(truncate(path, 100_000) == 0) }
        }
        #expect(MappedRegion.faults > faultsBefore)
        #expect(outcomes[0] == .digest(Digest.hash(.sha1, bytes[..<65_536])))
        #expect(outcomes[1] == .digest(Digest.hash(.sha1, bytes[65_536..<131_072])))
        // The file now ends inside piece 1: every later piece lost everything.
        #expect(outcomes[2...].allSatisfy { $0 == .shortFile(FileIndex(0)) })
        #expect(outcomes.count == layout.pieceCount)
    }
}
