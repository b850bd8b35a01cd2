import Foundation
import Testing
import ReactorTesting

/// `evtorrent bench --verify` downloads correct bytes from our seeder and from python3-libtorrent.
@Suite(.serialized) struct BenchInteropTests {
    private func bench(_ torrent: String, port: UInt16, peers: Int) throws -> [String: Any] {
        let output = try Tools.check(
            [Tools.evtorrent, "bench", "--torrent", torrent, "--seeder", "127.0.0.1:\(port)", "--peers", String(peers), "--verify",
             "--json"])
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    }

    private func check(_ report: [String: Any], peers: Int, size: Int, pieces: Int) {
        #expect(report["bytes"] as? Int == peers * size, "\(report)")
        #expect(report["pieces_verified"] as? Int == peers * pieces, "\(report)")
        #expect(report["hash_failures"] as? Int == 0)
        #expect(report["peers_finished"] as? Int == peers)
    }

    // Against `evtorrent seed`: 20 peers from 20 loopback addresses, every piece verified.
    @Test func verifiesAgainstEvtorrentSeed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("data/file.bin", patternBytes(3_000_000, seed: 5))
        let port = freePort()
        let seed = try BackgroundProcess(
            [Tools.evtorrent, "seed", "data/file.bin", "--bind", "127.0.0.1", "--port", String(port), "--tracker-port",
             String(freePort()), "--session-dir", directory.path + "/session", "-l", "64K"],
            in: directory.path, outputPath: directory.path + "/seed.log")
        defer { seed.stop(signal: SIGINT) }
        try #require(seed.waitForOutput("tracker ", seconds: 30), "\(seed.output)")
        let report = try bench(directory.path + "/data/file.bin.torrent", port: port, peers: 20)
        check(report, peers: 20, size: 3_000_000, pieces: (3_000_000 + 65_535) / 65_536)
        #expect(report["connections_accepted"] as? Int == 20)
    }

    // Against python3-libtorrent as the seeder.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func verifiesAgainstLibtorrent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("data/file.bin", patternBytes(2_000_000, seed: 6))
        try Tools.check(
            [Tools.evtorrent, "create", "data/file.bin", "-l", "32K", "-t", "http://127.0.0.1:9/announce", "-o", "file.torrent"],
            in: directory.path)
        let port = freePort()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/Benchmarks/seeders/libtorrent_seed.py"
        let seeder = try BackgroundProcess(
            [Tools.python, script, directory.path + "/file.torrent", directory.path + "/data", String(port), "default"],
            outputPath: directory.path + "/lt.log")
        defer { seeder.stop(signal: SIGKILL) }
        try #require(seeder.waitForOutput("ready", seconds: 30), "\(seeder.output)")
        var report: [String: Any] = [:]
        // libtorrent in seed mode accepts at once; give it a moment to listen.
        _ = waitUntil(seconds: 10) {
            report = (try? bench(directory.path + "/file.torrent", port: port, peers: 4)) ?? [:]
            return (report["bytes"] as? Int ?? 0) > 0
        }
        check(report, peers: 4, size: 2_000_000, pieces: (2_000_000 + 32_767) / 32_768)
    }
}
