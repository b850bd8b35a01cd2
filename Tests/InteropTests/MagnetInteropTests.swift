import Foundation
import Testing
import ReactorTesting

/// Magnet links on loopback against real clients: `evtorrent download MAGNET` fetches the metadata
/// and then the data from python3-libtorrent, transmission-cli and aria2c seeds, found through
/// the magnet's `x.pe` peer and, separately, through a tracker (opentracker) named in it; a
/// magnet with no source waits until a peer connects in; python3-libtorrent and aria2c download
/// from the magnet `evtorrent seed` prints.
@Suite(.serialized) struct MagnetInteropTests {
    typealias Swarm = DownloadInteropTests.Swarm

    /// `evtorrent download MAGNET` into `dl`, checked byte for byte; the fetched .torrent is kept.
    private func download(_ swarm: Swarm, magnet: String, name: String) throws {
        let session = swarm.directory.path + "/dl-session"
        let result = try Tools.run(
            [Tools.evtorrent, "download", magnet, "-o", swarm.directory.path + "/dl", "--bind", "127.0.0.1",
             "--port", String(freePort()), "--session-dir", session, "--no-seed"], seconds: 120)
        #expect(result.status == 0, "magnet download from \(name) failed: \(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(result.stdout.contains("metadata  fetched: content"), "\(result.stdout.suffix(800))")
        #expect(result.stdout.contains("complete "))
        #expect(swarm.matches(swarm.directory.path + "/dl"), "bytes from \(name) differ")
        let kept = session + "/" + (try swarm.infoHash()) + ".torrent"
        #expect(FileManager.default.contentsEqual(atPath: kept, andPath: swarm.torrent) || FileManager.default.fileExists(atPath: kept))
    }

    private func byPeer(_ start: (Swarm) -> () throws -> Void) throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        try start(swarm)()
        let seeder = try #require(swarm.seeders.first)
        try download(swarm, magnet: "magnet:?xt=urn:btih:\(try swarm.infoHash())&x.pe=127.0.0.1:\(seeder.port)", name: seeder.name)
    }

    /// A seed found only through opentracker, named in the magnet (`tr=`).
    private func byTracker(_ start: (Swarm) -> () throws -> Void) throws {
        let port = freePort()
        let url = "http://127.0.0.1:\(port)/announce"
        let swarm = try Swarm(tracker: url)
        defer { swarm.stop() }
        let hash = try swarm.infoHash()
        // Debian's opentracker serves only whitelisted torrents.
        try swarm.directory.write("whitelist", Array((hash + "\n").utf8))
        let tracker = try BackgroundProcess(
            ["opentracker", "-i", "127.0.0.1", "-p", String(port), "-P", String(port), "-d", swarm.directory.path, "-w", "whitelist"],
            outputPath: swarm.directory.path + "/opentracker.log")
        defer { _ = tracker.stop(signal: SIGKILL) }
        #expect(waitUntil(seconds: 10) { ((try? Tools.run(["curl", "-s", "http://127.0.0.1:\(port)/stats"]))?.status ?? 1) == 0 })
        try start(swarm)()
        let seeder = try #require(swarm.seeders.first)
        // The seed is in the tracker's swarm once it announced.
        #expect(waitUntil(seconds: 30) {
            let stats = (try? Tools.run(["curl", "-s", "http://127.0.0.1:\(port)/scrape?info_hash=" + Self.percentEncoded(hash)]))?.stdout ?? ""
            return stats.contains("8:completei1e")
        }, "\(seeder.name) never announced to opentracker")
        let encoded = url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? url
        try download(swarm, magnet: "magnet:?xt=urn:btih:\(hash)&dn=content&tr=\(encoded)", name: seeder.name + " via opentracker")
    }

    static func percentEncoded(_ hex: String) -> String {
        var text = ""
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            text += "%" + hex[index..<next]
            index = next
        }
        return text
    }

    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func fromLibtorrentByPeer() throws { try byPeer(Swarm.startLibtorrent) }

    @Test(.enabled(if: Tools.enabled("transmission-cli")))
    func fromTransmissionByPeer() throws { try byPeer(Swarm.startTransmission) }

    @Test(.enabled(if: Tools.enabled("aria2c")))
    func fromAria2ByPeer() throws { try byPeer(Swarm.startAria2) }

    @Test(.enabled(if: Tools.enabled("libtorrent", "opentracker", "curl")))
    func fromLibtorrentByTracker() throws { try byTracker(Swarm.startLibtorrent) }

    @Test(.enabled(if: Tools.enabled("transmission-cli", "opentracker", "curl")))
    func fromTransmissionByTracker() throws { try byTracker(Swarm.startTransmission) }

    @Test(.enabled(if: Tools.enabled("aria2c", "opentracker", "curl")))
    func fromAria2ByTracker() throws { try byTracker(Swarm.startAria2) }

    // A magnet with no tracker and no peer says it waits, and does: a libtorrent seed told to
    // connect to it is taken in, hands over the metadata and then the data on that connection.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func waitsForAPeerToConnectIn() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let port = freePort()
        let waiting = try BackgroundProcess(
            [Tools.evtorrent, "download", "magnet:?xt=urn:btih:\(try swarm.infoHash())", "-o", swarm.directory.path + "/dl",
             "--bind", "127.0.0.1", "--port", String(port), "--session-dir", swarm.directory.path + "/dl-session", "--no-seed"],
            outputPath: swarm.directory.path + "/waiting.log")
        defer { _ = waiting.stop(signal: SIGKILL) }
        #expect(waiting.waitForOutput("waiting for peers to connect in", seconds: 20), "\(waiting.output)")
        let seedPort = freePort()
        let seed = try BackgroundProcess(
            [Tools.python, "-c", Self.libtorrentSeedConnecting, swarm.torrent, swarm.data, String(seedPort), String(port)],
            outputPath: swarm.directory.path + "/libtorrent.log")
        swarm.seeders.append(("libtorrent", seed, seedPort))
        #expect(waiting.waitForOutput("complete ", seconds: 60), "\(waiting.output.suffix(1500))")
        #expect(waitUntil(seconds: 10) { !waiting.process.isRunning })
        #expect(swarm.matches(swarm.directory.path + "/dl"))
    }

    /// A libtorrent seed that connects to 127.0.0.1:argv[4] once it seeds.
    static let libtorrentSeedConnecting = Tools.libtorrentSession() + """
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
        while not h.status().is_seeding:
            time.sleep(0.1)
        print("seeding", flush=True)
        while True:
            h.connect_peer(('127.0.0.1', int(sys.argv[4])))
            time.sleep(2)
        """

    /// The magnet `evtorrent seed` prints for the content (its torrent made anew, with the
    /// embedded tracker in it), and the seed running.
    private func seeding(_ swarm: Swarm) throws -> (magnet: String, seed: BackgroundProcess) {
        let seed = try BackgroundProcess(
            [Tools.evtorrent, "seed", swarm.data + "/content", "-o", swarm.directory.path + "/ours.torrent", "--bind", "127.0.0.1",
             "--port", String(freePort()),
             "--tracker-port", String(freePort()), "--session-dir", swarm.directory.path + "/seed-session"],
            outputPath: swarm.directory.path + "/seed.log")
        try #require(seed.waitForOutput("peers ", seconds: 60), "seed did not start: \(seed.output)")
        let line = try #require(seed.output.split(separator: "\n").first { $0.hasPrefix("magnet ") })
        let magnet = String(try #require(line.split(separator: " ").last))
        return (magnet, seed)
    }

    // python3-libtorrent downloads from the magnet `evtorrent seed` printed (its embedded tracker
    // in tr=), the metadata from us too.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func libtorrentDownloadsOurMagnet() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let (magnet, seed) = try seeding(swarm)
        defer { _ = seed.stop() }
        #expect(magnet.contains("&tr="))
        let out = swarm.directory.path + "/lt"
        let result = try Tools.run([Tools.python, "-c", Self.libtorrentMagnet, magnet, out, String(freePort())], seconds: 90)
        #expect(result.status == 0 && result.stdout.contains("done"), "\(result.stdout) \(result.stderr)")
        #expect(swarm.matches(out))
    }

    static let libtorrentMagnet = Tools.libtorrentSession() + """
        p = lt.parse_magnet_uri(sys.argv[1]); p.save_path = sys.argv[2]
        h = ses.add_torrent(p)
        deadline = time.time() + 60
        while time.time() < deadline:
            if h.status().is_seeding:
                print("done", flush=True); sys.exit(0)
            time.sleep(0.1)
        s = h.status()
        print("timeout", s.state, s.has_metadata, s.num_peers, flush=True); sys.exit(1)
        """

    // aria2c downloads from the magnet `evtorrent seed` printed (aria2 announces left=0 before
    // it has the metadata; the embedded tracker still names the seed).
    @Test(.enabled(if: Tools.enabled("aria2c")))
    func aria2DownloadsOurMagnet() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let (magnet, seed) = try seeding(swarm)
        defer { _ = seed.stop() }
        let out = swarm.directory.path + "/aria2"
        let result = try Tools.run(
            ["aria2c", "--dir=" + out, "--seed-time=0", "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
             "--listen-port=\(freePort())", "--bt-stop-timeout=60", "--console-log-level=warn", magnet], seconds: 90)
        #expect(result.status == 0, "\(result.stdout.suffix(1500)) \(result.stderr.suffix(800))")
        #expect(swarm.matches(out))
    }

    // The daemon takes a magnet from `transmission-remote -a`: listed at once (its name from dn=),
    // it fetches the metadata from a libtorrent seed named in x.pe, then the data, and lists it
    // at 100 %. A magnet with no source is listed, stopped and started; it survives a restart
    // still waiting for its metadata, and is removed with its files in the config directory.
    @Test(.enabled(if: Tools.enabled("libtorrent", "transmission-remote")))
    func theDaemonAddsAMagnet() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        try swarm.startLibtorrent()
        let daemon = try DaemonInteropTests.Daemon()
        defer { daemon.stop() }
        let hash = try swarm.infoHash()
        try daemon.remote("-a", "magnet:?xt=urn:btih:\(hash)&dn=content&x.pe=127.0.0.1:\(swarm.seeders[0].port)")
        #expect(waitUntil(seconds: 60) { ((try? daemon.remote("-l")) ?? "").contains("100%") }, "\((try? daemon.remote("-l")) ?? "")")
        #expect(swarm.matches(daemon.directory.path + "/downloads"))
        let torrents = daemon.directory.path + "/config/torrents"
        #expect(FileManager.default.fileExists(atPath: "\(torrents)/\(hash).torrent"))
        #expect(!FileManager.default.fileExists(atPath: "\(torrents)/\(hash).magnet"))

        let lonely = String(repeating: "ab", count: 20)
        try daemon.remote("-a", "magnet:?xt=urn:btih:\(lonely)&dn=lonely")
        let listed = try daemon.remote("-l")
        #expect(listed.contains("lonely") && listed.contains("content"), "\(listed)")
        let details = try daemon.call(#"{"method":"torrent-get","arguments":{"ids":["\#(lonely)"],"fields":["name","status","metadataPercentComplete","totalSize","magnetLink"]}}"#)
        #expect(details.contains(#""status":4"#) && details.contains(#""metadataPercentComplete":0"#) && details.contains(#""totalSize":0"#), "\(details)")
        try daemon.remote("-t", lonely, "-S")
        #expect(try daemon.remote("-l").split(separator: "\n").contains { $0.contains("lonely") && $0.contains("Stopped") })
        try daemon.restart()
        let after = try daemon.remote("-l")
        #expect(after.split(separator: "\n").contains { $0.contains("lonely") && $0.contains("Stopped") }, "\(after)")
        #expect(after.contains("100%"))
        try daemon.remote("-t", lonely, "-s")
        try daemon.remote("-t", lonely, "-r")
        #expect(!(try daemon.remote("-l")).contains("lonely"))
        #expect(waitUntil(seconds: 5) { !FileManager.default.fileExists(atPath: "\(torrents)/\(lonely).magnet") })
    }
}

