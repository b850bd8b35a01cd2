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

        init(extra: [String] = []) throws {
            directory = try TemporaryDirectory()
            for (index, (path, size)) in SeedInteropTests.files.enumerated() {
                try directory.write(path, patternBytes(size, seed: UInt64(index + 10)))
            }
            process = try BackgroundProcess(
                [Tools.evtorrent, "seed", "content", "--bind", "127.0.0.1", "--port", String(port), "--tracker-port",
                 String(trackerPort), "--session-dir", directory.path + "/session", "--verbose"] + extra,
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

    static func startAria2(_ seed: Seed, into downloads: String, encrypted: Bool = false) throws -> BackgroundProcess {
        try BackgroundProcess(
            ["aria2c", "--dir=" + downloads, "--seed-time=0", "--bt-enable-lpd=false", "--enable-dht=false",
             "--enable-peer-exchange=false", "--listen-port=\(freePort())", "--console-log-level=warn",
             "--summary-interval=0", "--follow-torrent=false"]
                + (encrypted ? ["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"] : []) + [seed.torrent],
            outputPath: downloads + ".aria2.log")
    }

    /// `encryption`: `required` or `plaintext` (MSE forced or refused), or nil.
    static func startLibtorrent(_ seed: Seed, into downloads: String, encryption: String? = nil) throws -> BackgroundProcess {
        let script = Tools.libtorrentSession() + """
            if len(sys.argv) > 4:
                ses.apply_settings(libtorrent_encryption[sys.argv[4]])
            h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
            while not h.status().is_seeding:
                time.sleep(0.2)
            print("libtorrent done", flush=True)
            time.sleep(3600)
            """
        return try BackgroundProcess(
            [Tools.python, "-c", script, seed.torrent, downloads, String(freePort())] + (encryption.map { [$0] } ?? []),
            outputPath: downloads + ".lt.log")
    }

    static func startTransmission(_ seed: Seed, into downloads: String, encrypted: Bool = false) throws -> BackgroundProcess {
        try FileManager.default.createDirectory(atPath: downloads + ".tr-config", withIntermediateDirectories: true)
        return try BackgroundProcess(
            ["transmission-cli", "-w", downloads, "-g", downloads + ".tr-config", "-p", String(freePort()), encrypted ? "-er" : "-ep",
             seed.torrent],
            outputPath: downloads + ".tr.log")
    }

    /// Starts the seed (with `extra` options), runs `clients` against it, and checks every
    /// download and the clean stop.
    static func run(_ clients: [(String, (Seed, String) throws -> BackgroundProcess)], extra: [String] = []) throws {
        let seed = try Seed(extra: extra)
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
    func aria2DownloadsFromSeed() throws { try Self.run([("aria2", { try Self.startAria2($0, into: $1) })]) }

    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func libtorrentDownloadsFromSeed() throws { try Self.run([("libtorrent", { try Self.startLibtorrent($0, into: $1) })]) }

    @Test(.enabled(if: Tools.enabled("transmission-cli")))
    func transmissionDownloadsFromSeed() throws { try Self.run([("transmission", { try Self.startTransmission($0, into: $1) })]) }

    @Test(.enabled(if: Tools.enabled("aria2c", "libtorrent", "transmission-cli")))
    func allThreeAtOnce() throws {
        try Self.run([
            ("aria2", { try Self.startAria2($0, into: $1) }), ("libtorrent", { try Self.startLibtorrent($0, into: $1) }),
            ("transmission", { try Self.startTransmission($0, into: $1) }),
        ])
    }
}
