import Foundation
import Testing
import ReactorTesting

/// `evtorrent download` fetching a multi-file torrent from real clients seeding it on loopback:
/// python3-libtorrent, transmission-cli and aria2c, each alone and all three together; and a
/// download killed with SIGKILL halfway that resumes without fetching everything again.
@Suite(.serialized) struct DownloadInteropTests {
    static let files = SeedInteropTests.files

    /// The content, its torrent (no tracker: peers are given with --peer), and seeders of it.
    final class Swarm {
        let directory: TemporaryDirectory
        var seeders: [(name: String, process: BackgroundProcess, port: UInt16)] = []
        /// Seeders started from now on require encryption (MSE/PE, RC4).
        var requireEncryption = false

        /// The content and its torrent, announcing to `tracker` if given.
        init(tracker: String? = nil) throws {
            directory = try TemporaryDirectory(prefix: "evtorrent-download")
            for (index, (path, size)) in DownloadInteropTests.files.enumerated() {
                try directory.write("seed/" + path, patternBytes(size, seed: UInt64(index + 40)))
            }
            try Tools.check(
                [Tools.evtorrent, "create", "seed/content", "-l", "64k", "-o", "content.torrent"] + (tracker.map { ["-t", $0] } ?? []),
                in: directory.path)
        }

        /// The torrent's info hash, in hex.
        func infoHash() throws -> String {
            let info = try Tools.check([Tools.evtorrent, "info", "--json", torrent])
            return try #require((try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])?["info_hash"] as? String)
        }

        var torrent: String { directory.path + "/content.torrent" }
        var data: String { directory.path + "/seed" }

        /// Whether `downloads/content` (given `downloads`) matches the original byte for byte (empty files included).
        func matches(_ downloads: String) -> Bool {
            DownloadInteropTests.files.allSatisfy { path, _ in
                FileManager.default.contentsEqual(atPath: data + "/" + path, andPath: downloads + "/" + path)
            }
        }

        func startLibtorrent() throws {
            let port = freePort()
            let process = try BackgroundProcess(
                [Tools.python, "-c", Tools.libtorrentSeed, torrent, data, String(port)] + (requireEncryption ? ["required"] : []),
                outputPath: directory.path + "/libtorrent.log")
            seeders.append(("libtorrent", process, port))
            try #require(process.waitForOutput("seeding", seconds: 30), "libtorrent did not seed: \(process.output)")
        }

        func startTransmission() throws {
            let port = freePort()
            let config = directory.path + "/transmission-config"
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            // -et: accept unencrypted peers (evtorrent does not speak MSE); -v: verify the data first.
            let process = try BackgroundProcess(
                ["transmission-cli", "-g", config, "-p", String(port), requireEncryption ? "-er" : "-et", "-v", "-w", data, torrent],
                outputPath: directory.path + "/transmission.log")
            seeders.append(("transmission", process, port))
            try #require(process.waitForOutput("Seeding", seconds: 30), "transmission did not seed: \(process.output.suffix(2000))")
        }

        func startAria2() throws {
            let port = freePort()
            let process = try BackgroundProcess(
                ["aria2c", "--check-integrity=true", "--seed-ratio=0.0", "--listen-port=\(port)", "--dir=" + data,
                 "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--summary-interval=1",
                 "--console-log-level=notice"] + (requireEncryption ? ["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"] : []) + [torrent],
                outputPath: directory.path + "/aria2.log")
            seeders.append(("aria2", process, port))
            try #require(process.waitForOutput("SEED(", seconds: 30), "aria2 did not seed: \(process.output.suffix(2000))")
        }

        /// `evtorrent download` from every seeder started, into `name`.
        func download(into name: String, extra: [String] = ["--no-seed"]) throws -> Tools.Output {
            var arguments = [
                Tools.evtorrent, "download", torrent, "-o", directory.path + "/" + name, "--bind", "127.0.0.1",
                "--port", String(freePort()), "--session-dir", directory.path + "/" + name + "-session",
            ]
            for seeder in seeders { arguments += ["--peer", "127.0.0.1:\(seeder.port)"] }
            return try Tools.run(arguments + extra, seconds: 120)
        }

        func stop() {
            for seeder in seeders { seeder.process.stop(signal: SIGKILL) }
            directory.cleanup()
        }
    }

    private func run(_ start: [(Swarm) -> () throws -> Void]) throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        for seeder in start { try seeder(swarm)() }
        let result = try swarm.download(into: "dl")
        let names = swarm.seeders.map(\.name).joined(separator: "+")
        #expect(result.status == 0, "download from \(names) failed: \(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(result.stdout.contains("complete "))
        #expect(swarm.matches(swarm.directory.path + "/dl"), "bytes from \(names) differ")
    }

    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func downloadsFromLibtorrent() throws { try run([Swarm.startLibtorrent]) }

    @Test(.enabled(if: Tools.enabled("transmission-cli")))
    func downloadsFromTransmission() throws { try run([Swarm.startTransmission]) }

    @Test(.enabled(if: Tools.enabled("aria2c")))
    func downloadsFromAria2() throws { try run([Swarm.startAria2]) }

    // Without --no-seed it seeds after completing, here for --seed-time 2s, then exits 0.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func seedsForTheSeedTimeThenExits() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        try swarm.startLibtorrent()
        let started = Date()
        let result = try swarm.download(into: "dl", extra: ["--seed-time", "2s"])
        #expect(result.status == 0, "\(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(result.stdout.contains("seeding "))
        #expect(Date().timeIntervalSince(started) >= 2)
        #expect(swarm.matches(swarm.directory.path + "/dl"))
    }

    @Test(.enabled(if: Tools.enabled("libtorrent", "transmission-cli", "aria2c")))
    func downloadsFromAllThree() throws { try run([Swarm.startLibtorrent, Swarm.startTransmission, Swarm.startAria2]) }

    // kill -9 halfway (the seed is rate-limited so there is a halfway), then the same command
    // again: it keeps the pieces verified before the crash and fetches less than the whole
    // torrent; the bytes match at the end. With `truncating`, a file is also cut in half by
    // something else while the download runs (later writes extend it again, sparse): the restart
    // must not trust what the resume file says of it (it once finished "complete", exit 0, with
    // pieces that failed `verify`), and `evtorrent verify` passes at the end.
    @Test(arguments: [false, true])
    func resumesAfterKillNine(truncating: Bool) throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let seedPort = freePort()
        func startSeed(_ log: String) throws -> BackgroundProcess {
            let seed = try BackgroundProcess(
                [Tools.evtorrent, "seed", swarm.torrent, "--data", swarm.data, "--bind", "127.0.0.1", "--port", String(seedPort),
                 "--tracker-port", String(freePort()), "--upload-limit", truncating ? "1024" : "2048",
                 "--session-dir", swarm.directory.path + "/seed-session"],
                outputPath: swarm.directory.path + "/" + log)
            swarm.seeders.append(("evtorrent", seed, seedPort))
            try #require(seed.waitForOutput("peers ", seconds: 60), "seed did not start: \(seed.output)")
            return seed
        }
        let seed = try startSeed("seed.log")

        let out = swarm.directory.path + "/dl"
        let session = swarm.directory.path + "/dl-session"
        let arguments = [
            Tools.evtorrent, "download", swarm.torrent, "-o", out, "--no-seed", "--bind", "127.0.0.1", "--port",
            String(freePort()), "--session-dir", session, "--peer", "127.0.0.1:\(seedPort)",
        ]
        let first = try BackgroundProcess(arguments, outputPath: swarm.directory.path + "/first.log")
        // Wait until a resume file claims some pieces, then a little more, then SIGKILL.
        let total = DownloadInteropTests.files.reduce(0) { $0 + $1.1 }
        let resumeWritten = waitUntil(seconds: 30) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: session)) ?? []
            return files.contains { $0.hasSuffix(".resume") }
        }
        try #require(resumeWritten, "no resume file: \(first.output)")
        if truncating {
            // The largest file written so far, cut in half under the running download.
            let written = DownloadInteropTests.files.map { file in
                (file.0, ((try? FileManager.default.attributesOfItem(atPath: out + "/" + file.0))?[.size] as? Int) ?? 0)
            }.max { $0.1 < $1.1 }!
            try #require(written.1 > 0)
            #expect(truncate(out + "/" + written.0, off_t(written.1 / 2)) == 0)
            Thread.sleep(forTimeInterval: 2)  // later writes extend it again
            // Then nothing more is written, and a resume save records the files as they are: on
            // the restart their sizes and times match it, so only the unclean stop tells.
            _ = seed.stop(signal: SIGKILL, seconds: 5)
            Thread.sleep(forTimeInterval: 7)
        } else {
            Thread.sleep(forTimeInterval: 1.5)
        }
        _ = first.stop(signal: SIGKILL, seconds: 5)
        if truncating { _ = try startSeed("seed2.log") }
        let onDisk = DownloadInteropTests.files.reduce(0) { sum, file in
            sum + (((try? FileManager.default.attributesOfItem(atPath: out + "/" + file.0))?[.size] as? Int) ?? 0)
        }
        #expect(onDisk > 0, "nothing written before the kill")
        #expect(!swarm.matches(out), "the download finished before it was killed; slow the seed down")

        let second = try Tools.run(arguments, seconds: 120)
        #expect(second.status == 0, "restart failed: \(second.stdout.suffix(1500)) \(second.stderr.suffix(1500))")
        #expect(swarm.matches(out), "bytes differ after the restart")
        // "have N/M pieces (verified|resume)" with N > 0, and less than everything fetched again.
        let haveLine = second.stdout.split(separator: "\n").first { $0.hasPrefix("have ") } ?? ""
        let kept = Int(haveLine.split(separator: " ").dropFirst().first { !$0.isEmpty }?.split(separator: "/").first ?? "") ?? 0
        #expect(kept > 0, "no piece kept after kill -9: \(haveLine)")
        let fetched = second.stdout.split(separator: "\n").first { $0.hasPrefix("complete ") } ?? ""
        #expect(!fetched.isEmpty)
        let downloadedAgain = Self.bytes(in: String(fetched))
        #expect(downloadedAgain != nil && downloadedAgain! < Double(total), "refetched \(fetched) of \(total) bytes")
        let verified = try Tools.run([Tools.evtorrent, "verify", swarm.torrent, "--data", out])
        #expect(verified.status == 0, "verify after the restart: \(verified.stdout.suffix(800))")
    }

    // A file cut short by something else while the download runs, and no crash: later writes
    // extend it again over a hole of zeros, and the pieces it held are gone. The download must
    // notice at the end (the file's data stops short), check again and fetch them, not exit 0
    // with bytes that fail `verify`.
    @Test func fileCutShortWhileDownloadingIsFetchedAgain() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let seedPort = freePort()
        let seed = try BackgroundProcess(
            [Tools.evtorrent, "seed", swarm.torrent, "--data", swarm.data, "--bind", "127.0.0.1", "--port", String(seedPort),
             "--tracker-port", String(freePort()), "--upload-limit", "2048", "--session-dir", swarm.directory.path + "/seed-session"],
            outputPath: swarm.directory.path + "/seed.log")
        swarm.seeders.append(("evtorrent", seed, seedPort))
        try #require(seed.waitForOutput("peers ", seconds: 60), "seed did not start: \(seed.output)")
        let out = swarm.directory.path + "/dl"
        let download = try BackgroundProcess(
            [Tools.evtorrent, "download", swarm.torrent, "-o", out, "--no-seed", "--bind", "127.0.0.1", "--port", String(freePort()),
             "--session-dir", swarm.directory.path + "/dl-session", "--peer", "127.0.0.1:\(seedPort)"],
            outputPath: swarm.directory.path + "/download.log")
        defer { _ = download.stop(signal: SIGKILL) }
        let largest = DownloadInteropTests.files.max { $0.1 < $1.1 }!
        let path = out + "/" + largest.0
        let started = waitUntil(seconds: 30) {
            (((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0) > largest.1 / 3
        }
        try #require(started, "nothing written: \(download.output)")
        #expect(!swarm.matches(out), "the download finished before the cut; slow the seed down")
        // Writes under way land first; then everything written to the file goes (cut to half its
        // size, a cut could fall where nothing had been written yet and lose nothing).
        Thread.sleep(forTimeInterval: 1)
        #expect(truncate(path, 0) == 0)
        #expect(waitUntil(seconds: 120) { !download.process.isRunning }, "\(download.output.suffix(1500))")
        #expect(download.stop() == 0, "\(download.output.split(separator: "\n").filter { !$0.contains("progress") }.joined(separator: "\n").suffix(3000))")
        #expect(download.output.contains("files_shrank"), "\(download.output.split(separator: "\n").filter { !$0.contains("progress") }.joined(separator: "\n").suffix(3000))")
        #expect(swarm.matches(out), "bytes differ at the end")
        let verified = try Tools.run([Tools.evtorrent, "verify", swarm.torrent, "--data", out])
        #expect(verified.status == 0, "verify: \(verified.stdout.suffix(800))")
    }

    /// The byte count in "complete  12.3 MiB in ..." (the first size on the line).
    static func bytes(in line: String) -> Double? {
        let words = line.split(separator: " ")
        guard let index = words.firstIndex(where: { ["B", "KiB", "MiB", "GiB"].contains($0) }), index > 0,
            let value = Double(words[index - 1])
        else { return nil }
        let scale: [Substring: Double] = ["B": 1, "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824]
        return value * scale[words[index]]!
    }

    // A disk that cannot take the data (here: a file-size limit of 1 MiB, so writes fail with
    // EFBIG as they would with ENOSPC) pauses the download with a clear error; nothing crashes,
    // and once the limit is gone the same command completes.
    @Test func pausesWhenTheDiskIsFull() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        try swarm.startAria2()
        let out = swarm.directory.path + "/dl"
        let arguments = [
            Tools.evtorrent, "download", swarm.torrent, "-o", out, "--no-seed", "--bind", "127.0.0.1", "--port",
            String(freePort()), "--session-dir", out + "-session", "--peer", "127.0.0.1:\(swarm.seeders[0].port)",
        ]
        let limited = try BackgroundProcess(["prlimit", "--fsize=1048576", "--"] + arguments, outputPath: out + ".log")
        let paused = limited.waitForOutput("download_paused", seconds: 30)
        #expect(paused, "no pause: \(limited.output.suffix(2000))")
        #expect(limited.output.contains("disk full"), "\(limited.output.suffix(2000))")
        Thread.sleep(forTimeInterval: 1)
        // Still alive and paused; a clean stop says how to resume.
        #expect(limited.stop(signal: SIGINT) == 1)
        #expect(limited.output.contains("run the same command to resume"), "\(limited.output.suffix(1000))")
        let again = try Tools.run(arguments, seconds: 120)
        #expect(again.status == 0, "\(again.stdout.suffix(1500)) \(again.stderr.suffix(1500))")
        #expect(swarm.matches(out), "bytes differ after the disk had room again")
    }
}
