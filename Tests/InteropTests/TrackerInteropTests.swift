import Foundation
import Testing
import ReactorTesting
import TorrentCore

/// `evtorrent seed` announcing to a real tracker (opentracker, on loopback) over UDP and HTTP; a
/// python3-libtorrent leecher finds the seed through the tracker and downloads everything.
@Suite(.serialized) struct TrackerInteropTests {
    /// A test CA and a certificate it signed for localhost/127.0.0.1, made with the openssl tool;
    /// returns (CA file, server certificate + key file).
    static func makeCertificates(in directory: String) throws -> (ca: String, server: String) {
        let openssl: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
             "/CN=evtorrent test CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
             "-days", "2", "-extfile", "san.cnf"],
        ]
        try Array("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n".utf8).withUnsafeBytes {
            try Data($0).write(to: URL(fileURLWithPath: directory + "/san.cnf"))
        }
        for arguments in openssl { try Tools.check(["openssl"] + arguments, in: directory) }
        let bundle = try Data(contentsOf: URL(fileURLWithPath: directory + "/server.pem"))
            + Data(contentsOf: URL(fileURLWithPath: directory + "/server.key"))
        try bundle.write(to: URL(fileURLWithPath: directory + "/server-bundle.pem"))
        return (directory + "/ca.pem", directory + "/server-bundle.pem")
    }

    /// socat terminating TLS on `port` (certificate `bundle`) in front of 127.0.0.1:`target`.
    static func tlsProxy(port: UInt16, target: UInt16, bundle: String, log: String) throws -> BackgroundProcess {
        try BackgroundProcess(
            ["socat", "OPENSSL-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork,cert=\(bundle),verify=0", "TCP:127.0.0.1:\(target)"],
            outputPath: log)
    }

    private func run(scheme: String) throws {
        let directory = try TemporaryDirectory(prefix: "evtorrent-tracker")
        defer { directory.cleanup() }
        try directory.write("content/a.bin", patternBytes(3_000_000, seed: 31))
        try directory.write("content/b/c.bin", patternBytes(500_000, seed: 32))
        let trackerTCP = freePort()
        let trackerUDP = freePort()
        let trackerTLS = freePort()
        let plain = "http://127.0.0.1:\(trackerTCP)/announce"
        let url =
            scheme == "udp"
            ? "udp://127.0.0.1:\(trackerUDP)/announce" : scheme == "https" ? "https://localhost:\(trackerTLS)/announce" : plain
        // HTTPS: a TLS proxy (socat) with a certificate from a test CA in front of opentracker;
        // evtorrent trusts that CA through SSL_CERT_FILE, as OpenSSL's default store allows.
        var environment: [String] = []
        var proxy: BackgroundProcess?
        defer { _ = proxy?.stop(signal: SIGKILL) }
        if scheme == "https" {
            let (ca, bundle) = try Self.makeCertificates(in: directory.path)
            environment = ["/usr/bin/env", "SSL_CERT_FILE=" + ca]
            proxy = try Self.tlsProxy(port: trackerTLS, target: trackerTCP, bundle: bundle, log: directory.path + "/socat.log")
        }
        // Debian's opentracker serves only whitelisted torrents: make the torrent, list its hash.
        try Tools.check([Tools.evtorrent, "create", "content", "-t", url, "-o", "content.torrent"], in: directory.path)
        let info = try Tools.check([Tools.evtorrent, "info", "--json", "content.torrent"], in: directory.path)
        let hash = try #require((try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])?["info_hash"] as? String)
        try Array((hash + "\n").utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: directory.path + "/whitelist")) }
        let tracker = try BackgroundProcess(
            ["opentracker", "-i", "127.0.0.1", "-p", String(trackerTCP), "-P", String(trackerUDP), "-d", directory.path,
             "-w", "whitelist"],  // opentracker chroots into -d first, so the path is relative to it
            outputPath: directory.path + "/opentracker.log")
        defer { tracker.stop(signal: SIGKILL) }
        // Wait for the HTTP side to answer (the UDP side starts with it).
        #expect(waitUntil(seconds: 10) { ((try? Tools.run(["curl", "-s", "http://127.0.0.1:\(trackerTCP)/stats"]))?.status ?? 1) == 0 })

        let seedPort = freePort()
        let seed = try BackgroundProcess(
            environment + [Tools.evtorrent, "seed", "content.torrent", "--data", ".", "--bind", "127.0.0.1", "--port", String(seedPort),
             "--tracker", url, "--session-dir", directory.path + "/session", "--verbose"],
            in: directory.path, outputPath: directory.path + "/seed.log")
        defer { seed.stop(signal: SIGINT) }
        try #require(seed.waitForOutput("announced", seconds: 30), "seed did not announce: \(seed.output)")

        let script = """
            import sys, time, libtorrent as lt
            ses = lt.session({'listen_interfaces': '127.0.0.1:%s' % sys.argv[3], 'enable_dht': False, 'enable_lsd': False,
                              'enable_upnp': False, 'enable_natpmp': False})
            params = {'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]}
            h = ses.add_torrent(params)
            if len(sys.argv) > 4:  # announce elsewhere than the torrent says (plain HTTP to the same tracker)
                h.replace_trackers([lt.announce_entry(sys.argv[4])])
            deadline = time.time() + 60
            while time.time() < deadline and not h.status().is_seeding:
                time.sleep(0.2)
            print("seeding" if h.status().is_seeding else "incomplete", flush=True)
            """
        let leecher = try Tools.run(
            [Tools.python, "-c", script, directory.path + "/content.torrent", directory.path + "/dl", String(freePort())]
                + (scheme == "https" ? [plain] : []), seconds: 90)
        #expect(leecher.stdout.contains("seeding"), "libtorrent did not complete: \(leecher.stdout) \(leecher.stderr)")
        for path in ["content/a.bin", "content/b/c.bin"] {
            #expect(FileManager.default.contentsEqual(atPath: directory.path + "/" + path, andPath: directory.path + "/dl/" + path))
        }

        // The tracker's scrape counts the seed (HTTP scrape of opentracker, BEP 48).
        let escaped = stride(from: 0, to: 40, by: 2).map { "%" + hash.dropFirst($0).prefix(2) }.joined()
        // The body holds raw info-hash bytes: take it from a file, not as text.
        try Tools.check(["curl", "-s", "-o", directory.path + "/scrape", "http://127.0.0.1:\(trackerTCP)/scrape?info_hash=\(escaped)"])
        let body = Array(try Data(contentsOf: URL(fileURLWithPath: directory.path + "/scrape")))
        let decoded = try Bencode.decode(body)
        let files = try #require(decoded.dictionaryValue?["files"]?.dictionaryValue)
        let entry = try #require(files.entries.first?.value.dictionaryValue)
        #expect((entry["complete"]?.integerValue ?? 0) >= 1, "scrape: \(decoded)")

        // `evtorrent info --scrape` asks the tracker itself, over the torrent's own scheme.
        let scraped = try Tools.check(environment + [Tools.evtorrent, "info", "--scrape", "--json", directory.path + "/content.torrent"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(scraped.utf8)) as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["tracker"] as? String == url)
        #expect((rows[0]["seeders"] as? Int ?? 0) >= 1, "info --scrape: \(scraped)")
    }

    @Test(.enabled(if: Tools.enabled("opentracker", "libtorrent", "curl")))
    func seedAnnouncesOverUDP() throws { try run(scheme: "udp") }

    @Test(.enabled(if: Tools.enabled("opentracker", "libtorrent", "curl")))
    func seedAnnouncesOverHTTP() throws { try run(scheme: "http") }

    @Test(.enabled(if: Tools.enabled("opentracker", "libtorrent", "curl", "socat", "openssl")))
    func seedAnnouncesOverHTTPS() throws { try run(scheme: "https") }

    // A tracker whose certificate does not chain to a trusted CA: the announce fails with a
    // clear TLS error in the log, the seed keeps running and stops cleanly.
    @Test(.enabled(if: Tools.enabled("socat", "openssl")))
    func untrustedCertificateIsAClearError() throws {
        let directory = try TemporaryDirectory(prefix: "evtorrent-badca")
        defer { directory.cleanup() }
        try directory.write("content/a.bin", patternBytes(100_000, seed: 33))
        let (_, bundle) = try Self.makeCertificates(in: directory.path)
        let tlsPort = freePort()
        let proxy = try Self.tlsProxy(port: tlsPort, target: freePort(), bundle: bundle, log: directory.path + "/socat.log")
        defer { _ = proxy.stop(signal: SIGKILL) }
        let seed = try BackgroundProcess(
            [Tools.evtorrent, "seed", "content", "--bind", "127.0.0.1", "--port", String(freePort()), "--tracker",
             "https://localhost:\(tlsPort)/announce", "--session-dir", directory.path + "/session"],
            in: directory.path, outputPath: directory.path + "/seed.log")
        let failed = seed.waitForOutput("announce_failed", seconds: 30)
        #expect(failed, "no announce failure logged: \(seed.output)")
        #expect(seed.output.contains("certificate verify failed"), "\(seed.output)")
        #expect(seed.stop(signal: SIGINT) == 0, "seed did not survive and stop cleanly: \(seed.output)")
    }

    // `evtorrent tracker` on its own: a libtorrent seed and an aria2 leecher that know only the
    // tracker URL find each other through it and the leecher completes; the scrape counts them.
    @Test(.enabled(if: Tools.enabled("libtorrent", "aria2c")))
    func otherClientsFindEachOtherThroughOurTracker() throws {
        let directory = try TemporaryDirectory(prefix: "evtorrent-ourtracker")
        defer { directory.cleanup() }
        try directory.write("seed/content/a.bin", patternBytes(2_000_000, seed: 51))
        try directory.write("seed/content/b/c.bin", patternBytes(300_000, seed: 52))
        let port = freePort()
        let url = "http://127.0.0.1:\(port)/announce"
        try Tools.check([Tools.evtorrent, "create", "seed/content", "-t", url, "-o", "content.torrent"], in: directory.path)
        let tracker = try BackgroundProcess(
            [Tools.evtorrent, "tracker", "--bind", "127.0.0.1", "--port", String(port), "--allow-torrent",
             directory.path + "/content.torrent", "--verbose"],
            outputPath: directory.path + "/tracker.log")
        defer { _ = tracker.stop(signal: SIGINT) }
        try #require(tracker.waitForOutput("tracker ", seconds: 30), "tracker did not start: \(tracker.output)")

        let seed = try BackgroundProcess(
            [Tools.python, "-c", Tools.libtorrentSeed, directory.path + "/content.torrent", directory.path + "/seed",
             String(freePort())],
            outputPath: directory.path + "/libtorrent.log")
        defer { _ = seed.stop(signal: SIGKILL) }
        try #require(seed.waitForOutput("seeding", seconds: 30), "libtorrent did not seed: \(seed.output)")
        // The seed's announce is in before the leecher asks.
        #expect(waitUntil(seconds: 20) { tracker.output.contains("tracker_announce") })

        let leecher = try Tools.run(
            ["aria2c", "--dir=" + directory.path + "/dl", "--seed-time=0", "--bt-enable-lpd=false", "--enable-dht=false",
             "--enable-peer-exchange=false", "--listen-port=\(freePort())", "--console-log-level=warn",
             "--summary-interval=0", "--follow-torrent=false", "--bt-stop-timeout=60", directory.path + "/content.torrent"],
            seconds: 90)
        #expect(leecher.status == 0, "aria2 failed: \(leecher.stdout.suffix(1500)) \(leecher.stderr.suffix(500))")
        for path in ["content/a.bin", "content/b/c.bin"] {
            #expect(FileManager.default.contentsEqual(atPath: directory.path + "/seed/" + path, andPath: directory.path + "/dl/" + path))
        }
        let scraped = try Tools.check([Tools.evtorrent, "info", "--scrape", "--json", directory.path + "/content.torrent"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(scraped.utf8)) as? [[String: Any]])
        #expect((rows.first?["seeders"] as? Int ?? 0) >= 1, "scrape: \(scraped)")
        #expect(tracker.stop(signal: SIGINT) == 0)
        #expect(tracker.output.contains("announces "))
    }

    // A tracker that gzips its bodies (a small Python server here, as some real trackers do):
    // the seed's announce reads the peers out of it and `info --scrape` reads the counts.
    @Test func readsGzippedTrackerResponses() throws {
        let directory = try TemporaryDirectory(prefix: "evtorrent-gzip")
        defer { directory.cleanup() }
        try directory.write("content/a.bin", patternBytes(50_000, seed: 34))
        let port = freePort()
        let url = "http://127.0.0.1:\(port)/announce"
        try Tools.check([Tools.evtorrent, "create", "content", "-t", url, "-o", "content.torrent"], in: directory.path)
        let server = """
            import gzip, sys, http.server, urllib.parse
            class Tracker(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    if self.path.startswith('/scrape'):
                        query = self.path.split('?', 1)[1]
                        infohash = urllib.parse.unquote_to_bytes(query.split('info_hash=', 1)[1].split('&')[0])
                        body = b'd5:filesd20:' + infohash + b'd8:completei7e10:downloadedi3e10:incompletei2eeee'
                    else:  # two peers, compact
                        body = b'd8:intervali1800e5:peers12:' + bytes([127, 0, 0, 9, 0x1a, 0xe1, 127, 0, 0, 10, 0x1a, 0xe2]) + b'e'
                    data = gzip.compress(body)
                    self.send_response(200)
                    self.send_header('Content-Encoding', 'gzip')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    print('served', self.path.split('?')[0], self.headers.get('Accept-Encoding'), flush=True)
                def log_message(self, *args):
                    pass
            print('listening', flush=True)
            http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Tracker).serve_forever()
            """
        let tracker = try BackgroundProcess([Tools.python, "-c", server, String(port)], outputPath: directory.path + "/tracker.log")
        defer { _ = tracker.stop(signal: SIGKILL) }
        try #require(tracker.waitForOutput("listening", seconds: 10))
        let seed = try BackgroundProcess(
            [Tools.evtorrent, "seed", "content.torrent", "--data", ".", "--bind", "127.0.0.1", "--port", String(freePort()),
             "--tracker", url, "--session-dir", directory.path + "/session", "--verbose"],
            in: directory.path, outputPath: directory.path + "/seed.log")
        defer { _ = seed.stop(signal: SIGINT) }
        #expect(seed.waitForOutput("peers=2", seconds: 20), "announce did not read the gzipped peers: \(seed.output)")
        #expect(tracker.output.contains("served /announce gzip"), "\(tracker.output)")
        let scraped = try Tools.check([Tools.evtorrent, "info", "--scrape", "--json", directory.path + "/content.torrent"])
        #expect(tracker.output.contains("served /scrape gzip"))
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(scraped.utf8)) as? [[String: Any]])
        #expect(rows.first?["seeders"] as? Int == 7 && rows.first?["leechers"] as? Int == 2, "\(scraped)")
    }
}
