import Foundation
import Testing
import ReactorTesting

/// MSE/PE on loopback with clients that require it: python3-libtorrent (forced, RC4 only),
/// transmission-cli (`-er`) and aria2c (`--bt-require-crypto`) each download from
/// `evtorrent seed --encryption required`, and `evtorrent download --encryption required` fetches
/// from each of them; a plaintext-only peer is refused by a `required` seed and served by a
/// `preferred` one.
@Suite(.serialized) struct EncryptionInteropTests {
    typealias Seed = SeedInteropTests.Seed
    typealias Swarm = DownloadInteropTests.Swarm
    static let required = ["--encryption", "required"]

    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func libtorrentDownloadsFromARequiredSeed() throws {
        try SeedInteropTests.run([("libtorrent", { try SeedInteropTests.startLibtorrent($0, into: $1, encryption: "required") })], extra: Self.required)
    }

    @Test(.enabled(if: Tools.enabled("transmission-cli")))
    func transmissionDownloadsFromARequiredSeed() throws {
        try SeedInteropTests.run([("transmission", { try SeedInteropTests.startTransmission($0, into: $1, encrypted: true) })], extra: Self.required)
    }

    @Test(.enabled(if: Tools.enabled("aria2c")))
    func aria2DownloadsFromARequiredSeed() throws {
        try SeedInteropTests.run([("aria2", { try SeedInteropTests.startAria2($0, into: $1, encrypted: true) })], extra: Self.required)
    }

    private func downloadRequired(_ start: (Swarm) -> () throws -> Void) throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        swarm.requireEncryption = true
        try start(swarm)()
        let result = try swarm.download(into: "dl", extra: ["--no-seed", "--verbose"] + Self.required)
        let name = swarm.seeders.map(\.name).joined()
        #expect(result.status == 0, "encrypted download from \(name) failed: \(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(swarm.matches(swarm.directory.path + "/dl"), "bytes from \(name) differ")
    }

    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func downloadsFromARequiredLibtorrent() throws { try downloadRequired(Swarm.startLibtorrent) }

    @Test(.enabled(if: Tools.enabled("transmission-cli")))
    func downloadsFromARequiredTransmission() throws { try downloadRequired(Swarm.startTransmission) }

    @Test(.enabled(if: Tools.enabled("aria2c")))
    func downloadsFromARequiredAria2() throws { try downloadRequired(Swarm.startAria2) }

    // A libtorrent that refuses encryption gets nothing from a seed that requires it (in 10 s),
    // and everything from one that prefers it.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func aPlaintextPeerIsRefusedOrServedAsThePolicySays() throws {
        let strict = try Seed(extra: Self.required)
        defer {
            _ = strict.stop()
            strict.directory.cleanup()
        }
        try #require(strict.process.waitForOutput("tracker ", seconds: 60), "\(strict.process.output)")
        let refused = strict.directory.path + "/refused"
        try FileManager.default.createDirectory(atPath: refused, withIntermediateDirectories: true)
        let plain = try SeedInteropTests.startLibtorrent(strict, into: refused, encryption: "plaintext")
        Thread.sleep(forTimeInterval: 10)
        plain.stop(signal: SIGKILL)
        #expect(!strict.matches(refused) && !plain.output.contains("libtorrent done"))

        try SeedInteropTests.run(
            [("libtorrent", { try SeedInteropTests.startLibtorrent($0, into: $1, encryption: "plaintext") })], extra: ["--encryption", "preferred"])
    }
}

extension EncryptionInteropTests {
    // transmission-remote sets the daemon's policy (-er, -et); settings.json keeps Transmission's
    // number, and a restart keeps the policy.
    @Test(.enabled(if: Tools.enabled("transmission-remote")))
    func theDaemonTakesThePolicyFromTransmissionRemote() throws {
        let daemon = try DaemonInteropTests.Daemon()
        defer { daemon.stop() }
        try daemon.remote("-er")
        #expect(try daemon.remote("-si").contains("Encryption: required"))
        let settings = try String(contentsOfFile: daemon.directory.path + "/config/settings.json", encoding: .utf8)
        #expect(settings.contains(#""encryption": 2"#), "\(settings)")
        try daemon.restart()
        #expect(try daemon.remote("-si").contains("Encryption: required"))
        try daemon.remote("-et")
        #expect(try daemon.remote("-si").contains("Encryption: tolerated"))
    }
}
