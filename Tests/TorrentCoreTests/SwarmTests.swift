import Testing

@testable import TorrentCore

/// Content whose every piece differs: 10 pieces of 32 KiB and a short last one.
private let content: [UInt8] = (0..<(10 * 32_768 + 5_000)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }

@Suite struct SwarmTests {
    // One honest seeder: the leecher fetches every piece with no sockets, and what it wrote is
    // the content, byte for byte.
    @Test func downloadsEverythingFromOneSeeder() {
        var swarm = SwarmHarness(content: content, pieceLength: 32_768, seeders: [("10.0.0.1", false)])
        swarm.drive()
        #expect(swarm.isFinished)
        #expect(swarm.written == content)
        #expect(swarm.downloader.hashFailures == 0 && swarm.banned.isEmpty)
        #expect(swarm.downloader.downloadedBytes == Int64(content.count))
    }

    // Three seeders, one of them corrupting every block it sends: it is banned (and only it),
    // its connection closes, and the download still completes with exactly the content.
    @Test func corruptingSeederIsBannedAndDownloadCompletes() {
        var swarm = SwarmHarness(
            content: content, pieceLength: 32_768,
            seeders: [("10.0.0.1", false), ("10.0.0.66", true), ("10.0.0.3", false)])
        swarm.drive()
        #expect(swarm.isFinished)
        #expect(swarm.written == content)
        #expect(swarm.banned == ["10.0.0.66"])
        #expect(swarm.downloader.hashFailures >= 1)
        let liar = swarm.links.first { $0.host == "10.0.0.66" }
        #expect(liar?.isOpen == false && liar?.closedBecause == .badData)
        // The honest ones close too, but only once we are a seed like them.
        #expect(swarm.links.filter { $0.host != "10.0.0.66" }.allSatisfy { $0.closedBecause == .bothSeeds })
    }

    // Only a corrupting seeder: nothing verifies, it is banned after two bad pieces, and the
    // download stops (not finished, nothing written) instead of looping.
    @Test func loneLiarIsBannedAndNothingIsWritten() {
        var swarm = SwarmHarness(content: content, pieceLength: 32_768, seeders: [("10.0.0.66", true)])
        let rounds = swarm.drive()
        #expect(rounds < 100_000)
        #expect(!swarm.isFinished)
        #expect(swarm.banned == ["10.0.0.66"])
        #expect(swarm.written.allSatisfy { $0 == 0 })
    }
}
