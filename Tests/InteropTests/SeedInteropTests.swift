import Foundation
import Testing
import ReactorTesting

/// `evtorrent seed` serving real clients on loopback: aria2c, python3-libtorrent and
/// transmission-cli each download a multi-file torrent, alone and all at once; bytes must match.
@Suite(.serialized) struct SeedInteropTests {
    /// A multi-file tree: a large file, small ones, an empty one, nested directories.
    static let files: [(String, Int)] = [
        ("content/video.bin", 24_000_123), ("content/docs/readme.txt", 1_234), ("content/docs/deep/notes.bin", 300_000),
        ("content/empty.dat", 0), ("content/z.bin", 65_537),
    ]

    final class Seed {
        let directory: TemporaryDirectory
        let process: BackgroundProcess
        let port = freePort()
        let trackerPort = freePort()

        init() throws {
            directory = try TemporaryDirectory()
            for (index, (path, size)) in SeedInteropTests.files.enumerated() {
                try directory.write(path, patternBytes(size, seed: UInt64(index + 10)))
            }
            process = try BackgroundProcess(
                [Tools.evtorrent, "seed", "content", "--bind", "127.0.0.1", "--port", String(port), "--tracker-port",
                 String(trackerPort), "--session-dir", directory.path + "/session", "--verbose"],
                in: directory.path, outputPath: directory.path + "/seed.log")
        }

        var torrent: String { directory.path + "/content.torrent" }

        /// Whether `downloads/content` matches the original byte for byte. A zero-length file may
        /// be absent: transmission 3 does not create empty files.
        func matches(_ downloads: String) -> Bool {
            SeedInteropTests.files.allSatisfy { path, size in
                let copy = downloads + "/" + path
                if size == 0 && !FileManager.default.fileExists(atPath: copy) { return true }
                return FileManager.default.contentsEqual(atPath: directory.path + "/" + path, andPath: copy)
            }
        }

        func stop() -> Int32 {
            let status = process.stop(signal: SIGINT)
            return status
        }
    }

    private func startAria2(_ seed: Seed, into downloads: String) throws -> BackgroundProcess {
        try BackgroundProcess(
            ["aria2c", "--dir=" + downloads, "--seed-time=0", "--bt-enable-lpd=false", "--enable-dht=false",
             "--enable-peer-exchange=false", "--listen-port=\(freePort())", "--console-log-level=warn",
             "--summary-interval=0", "--follow-torrent=false", seed.torrent],
            outputPath: downloads + ".aria2.log")
    }

    private func startLibtorrent(_ seed: Seed, into downloads: String) throws -> BackgroundProcess {
        let script = """
            import sys, time, libtorrent as lt
            ses = lt.session({'listen_interfaces': '127.0.0.1:%s' % sys.argv[3], 'enable_dht': False, 'enable_lsd': False,
                              'enable_upnp': False, 'enable_natpmp': False, 'allow_multiple_connections_per_ip': True})
            h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
            while not h.status().is_seeding:
                time.sleep(0.2)
            print("libtorrent done", flush=True)
            time.sleep(3600)
            """
        return try BackgroundProcess(
            [Tools.python, "-c", script, seed.torrent, downloads, String(freePort())], outputPath: downloads + ".lt.log")
    }

    private func startTransmission(_ seed: Seed, into downloads: String) throws -> BackgroundProcess {
        try FileManager.default.createDirectory(atPath: downloads + ".tr-config", withIntermediateDirectories: true)
        return try BackgroundProcess(
            ["transmission-cli", "-w", downloads, "-g", downloads + ".tr-config", "-p", String(freePort()), "-ep",
             seed.torrent],
            outputPath: downloads + ".tr.log")
    }

    /// Starts the seed, runs `clients` against it, and checks every download and the clean stop.
    private func run(_ clients: [(String, (Seed, String) throws -> BackgroundProcess)]) throws {
        let seed = try Seed()
        defer { seed.directory.cleanup() }
        guard seed.process.waitForOutput("tracker ", seconds: 60) else {
            Issue.record("seed did not start: \(seed.process.output)")
            _ = seed.stop()
            return
        }
        var running: [(String, String, BackgroundProcess)] = []
        for (name, start) in clients {
            let downloads = seed.directory.path + "/dl-" + name
            try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)
            running.append((name, downloads, try start(seed, downloads)))
        }
        let allDone = waitUntil(seconds: 90) { running.allSatisfy { seed.matches($0.1) } }
        for (name, downloads, process) in running {
            #expect(seed.matches(downloads), "\(name) did not get identical bytes:\n\(process.output.suffix(2000))")
            process.stop(signal: SIGKILL)
        }
        #expect(allDone)
        #expect(seed.stop() == 0, "seed did not exit cleanly: \(seed.process.output.suffix(2000))")
        #expect(seed.process.output.contains("uploaded "))
    }

    @Test(.enabled(if: Tools.enabled("aria2c")))
    func aria2DownloadsFromSeed() throws { try run([("aria2", startAria2)]) }

    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func libtorrentDownloadsFromSeed() throws { try run([("libtorrent", startLibtorrent)]) }

    @Test(.enabled(if: Tools.enabled("transmission-cli")))
    func transmissionDownloadsFromSeed() throws { try run([("transmission", startTransmission)]) }

    @Test(.enabled(if: Tools.enabled("aria2c", "libtorrent", "transmission-cli")))
    func allThreeAtOnce() throws {
        try run([("aria2", startAria2), ("libtorrent", startLibtorrent), ("transmission", startTransmission)])
    }
}
