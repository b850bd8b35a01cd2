import Foundation
import Testing
import ReactorTesting

/// `evtorrent daemon` driven by Debian's transmission-remote 3.00 on loopback, with
/// python3-libtorrent downloading a torrent the daemon seeds, and raw RPC calls (curl) for what
/// the remote does not send.
@Suite(.serialized) struct DaemonInteropTests {
    final class Daemon {
        let directory: TemporaryDirectory
        let rpcPort = freePort()
        let peerPort = freePort()
        var process: BackgroundProcess
        let extra: [String]

        init(_ extra: [String] = []) throws {
            let directory = try TemporaryDirectory()
            self.directory = directory
            self.extra = extra.map { $0.replacingOccurrences(of: "$DIR", with: directory.path) }
            try FileManager.default.createDirectory(atPath: directory.path + "/downloads", withIntermediateDirectories: true)
            process = try Self.start(directory.path, rpcPort: rpcPort, peerPort: peerPort, log: "daemon.log", extra: self.extra)
            #expect(process.waitForOutput("rpc ", seconds: 30), "daemon did not start: \(process.output)")
        }

        static func start(_ path: String, rpcPort: UInt16, peerPort: UInt16, log: String, extra: [String] = []) throws -> BackgroundProcess {
            try BackgroundProcess(
                [Tools.evtorrent, "daemon", "--config-dir", path + "/config", "--rpc-port", String(rpcPort), "--rpc-bind", "127.0.0.1",
                 "--peer-port", String(peerPort), "--download-dir", path + "/downloads", "--verbose"] + extra,
                outputPath: path + "/" + log)
        }

        /// Stops it (SIGTERM: resume files written, trackers told), runs `meanwhile`, and starts it again.
        func restart(meanwhile: () throws -> Void = {}) throws {
            #expect(process.stop(signal: SIGTERM) == 0)
            try meanwhile()
            process = try Self.start(directory.path, rpcPort: rpcPort, peerPort: peerPort, log: "daemon2.log", extra: extra)
            #expect(process.waitForOutput("rpc ", seconds: 30), "daemon did not restart: \(process.output)")
        }

        @discardableResult
        func remote(_ arguments: String...) throws -> String {
            let output = try Tools.check(["transmission-remote", "127.0.0.1:\(rpcPort)"] + arguments)
            return output
        }

        /// One raw RPC call with curl (session-id handshake included); the body as text.
        func call(_ body: String) throws -> String {
            let url = "http://127.0.0.1:\(rpcPort)/transmission/rpc"
            let first = try Tools.run(["curl", "-s", "-i", "-X", "POST", "-d", body, url])
            let id = first.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-transmission-session-id:") }
                .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? ""
            return try Tools.run(["curl", "-s", "-H", "X-Transmission-Session-Id: " + id, "-d", body, url]).stdout
        }

        func stop() {
            _ = process.stop(signal: SIGKILL)
            directory.cleanup()
        }
    }

    // transmission-remote adds a torrent whose data is in place (the remote sends it as base64),
    // lists it at 100 % with its size, shows its details and files, stops, starts and verifies it;
    // meanwhile python3-libtorrent downloads it from the daemon; then `--remove-and-delete` takes
    // the data and nothing else.
    @Test func transmissionRemoteDrivesTheDaemon() throws {
        guard Tools.enabled("transmission-remote", "curl"), Tools.hasLibtorrent else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let downloads = daemon.directory.path + "/downloads"
        try daemon.directory.write("downloads/album/track1.bin", patternBytes(2_000_000, seed: 41))
        try daemon.directory.write("downloads/album/track2.bin", patternBytes(700_001, seed: 42))
        try daemon.directory.write("downloads/keep-me.txt", Array("not the torrent's".utf8))
        try Tools.check([Tools.evtorrent, "create", downloads + "/album", "-o", daemon.directory.path + "/album.torrent", "--no-date"])
        let hash = try #require(try Tools.check([Tools.evtorrent, "info", daemon.directory.path + "/album.torrent"])
            .split(separator: "\n").first { $0.hasPrefix("Info hash:") }?.split(separator: " ").last.map(String.init))

        #expect(try daemon.remote("-a", daemon.directory.path + "/album.torrent").contains("success"))
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })
        let list = try daemon.remote("-l")
        #expect(list.contains("album") && list.contains("2.70 MB"), "\(list)")
        let details = try daemon.remote("-t", "1", "-i")
        #expect(details.contains("Hash: \(hash)") && details.contains("Percent Done: 100%"), "\(details)")
        let files = try daemon.remote("-t", "1", "-f")
        #expect(files.contains("track1.bin") && files.contains("track2.bin") && files.contains("2 files") && files.contains("100%"), "\(files)")

        // A real client downloads it from the daemon's peer port.
        let fetched = daemon.directory.path + "/fetched"
        let script = """
            import sys, time, libtorrent as lt
            ses = lt.session({'listen_interfaces': '127.0.0.1:%s' % sys.argv[3], 'enable_dht': False, 'enable_lsd': False,
                              'enable_upnp': False, 'enable_natpmp': False})
            h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
            h.connect_peer(('127.0.0.1', int(sys.argv[4])))
            deadline = time.time() + 60
            while not h.status().is_seeding and time.time() < deadline:
                time.sleep(0.2)
            print("libtorrent done" if h.status().is_seeding else "libtorrent stuck", flush=True)
            time.sleep(3600)
            """
        let leecher = try BackgroundProcess(
            [Tools.python, "-c", script, daemon.directory.path + "/album.torrent", fetched, String(freePort()), String(daemon.peerPort)],
            outputPath: daemon.directory.path + "/lt.log")
        defer { _ = leecher.stop(signal: SIGKILL) }
        #expect(leecher.waitForOutput("libtorrent done", seconds: 90), "\(leecher.output)")
        #expect(FileManager.default.contentsEqual(atPath: downloads + "/album/track1.bin", andPath: fetched + "/album/track1.bin"))
        #expect(FileManager.default.contentsEqual(atPath: downloads + "/album/track2.bin", andPath: fetched + "/album/track2.bin"))

        try daemon.remote("-t", "1", "-S")
        #expect(try daemon.remote("-l").contains("Stopped"))
        try daemon.remote("-t", "1", "-s")
        #expect(try !daemon.remote("-l").contains("Stopped"))
        #expect(try daemon.remote("-t", "1", "-v").contains("success"))
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })

        try daemon.remote("-t", "1", "--remove-and-delete")
        #expect(waitUntil(seconds: 10) { !FileManager.default.fileExists(atPath: downloads + "/album") })
        #expect(FileManager.default.fileExists(atPath: downloads + "/keep-me.txt"))
        #expect(try !daemon.remote("-l").contains("album"))
    }

    // What the remote does not send, over raw HTTP: the 409 handshake (a bare GET too, as Sonarr
    // starts), malformed JSON, an unknown method, garbage metainfo, adding by URL (the answer
    // waits for the fetch) and by path, and JSON-RPC 2.0; then a restart checks nothing whose
    // files are unchanged.
    @Test func rawRPCAndRestart() throws {
        guard Tools.enabled("curl") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let url = "http://127.0.0.1:\(daemon.rpcPort)/transmission/rpc"
        let bare = try Tools.run(["curl", "-s", "-i", url]).stdout
        #expect(bare.hasPrefix("HTTP/1.1 409") && bare.lowercased().contains("x-transmission-session-id:"), "\(bare)")

        #expect(try daemon.call("{not json").contains("\"result\":\"no method name"))
        #expect(try daemon.call(#"{"method":"torrent-frobnicate","tag":5}"#) == #"{"arguments":{},"result":"method name not recognized","tag":5}"#)
        #expect(try daemon.call(#"{"method":"torrent-add","arguments":{"metainfo":"bm90IGEgdG9ycmVudA=="},"tag":6}"#).contains("invalid or corrupt torrent file"))

        try daemon.directory.write("downloads/one.bin", patternBytes(300_000, seed: 51))
        try Tools.check([Tools.evtorrent, "create", daemon.directory.path + "/downloads/one.bin", "-o", daemon.directory.path + "/one.torrent"])
        let port = freePort()
        let server = try BackgroundProcess(
            [Tools.python, "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", daemon.directory.path],
            outputPath: daemon.directory.path + "/http.log")
        defer { _ = server.stop(signal: SIGKILL) }
        #expect(waitUntil(seconds: 10) { ((try? Tools.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]))?.status ?? 1) == 0 })
        let added = try daemon.call(#"{"method":"torrent-add","arguments":{"filename":"http://127.0.0.1:\#(port)/one.torrent"},"tag":7}"#)
        #expect(added.contains(#""torrent-added""#) && added.contains(#""name":"one.bin""#), "\(added)")
        let again = try daemon.call(#"{"method":"torrent-add","arguments":{"filename":"\#(daemon.directory.path)/one.torrent"},"tag":8}"#)
        #expect(again.contains(#""torrent-duplicate""#), "\(again)")

        let modern = try daemon.call(#"{"jsonrpc":"2.0","method":"torrent_get","params":{"fields":["hash_string","percent_done"]},"id":9}"#)
        #expect(modern.hasPrefix(#"{"jsonrpc":"2.0","result":{"torrents":[{"hash_string":"#) && modern.hasSuffix(#""id":9}"#), "\(modern)")
        // A JSON-RPC 2.0 batch: one array of answers, in order, the notification unanswered.
        let batch = try daemon.call(#"[{"jsonrpc":"2.0","method":"session_get","params":{"fields":["version"]},"id":"a"},{"jsonrpc":"2.0","method":"session_stats"},{"jsonrpc":"2.0","method":"no_such_method","id":"b"}]"#)
        #expect(batch.hasPrefix(#"[{"jsonrpc":"2.0","result":{"version":"#) && batch.contains(#""id":"a"},{"jsonrpc":"2.0","error":{"code":-32601"#)
                    && batch.hasSuffix(#""id":"b"}]"#), "\(batch)")
        // Transmission 4.1's JSON-RPC renamed two values: `wanted` is booleans, and the encryption
        // setting `tolerated` is `allowed` (taken both ways); the legacy dialect keeps the old ones.
        let wanted = try daemon.call(#"{"jsonrpc":"2.0","method":"torrent_get","params":{"fields":["wanted"]},"id":10}"#)
        #expect(wanted.contains(#""wanted":[true]"#), "\(wanted)")
        #expect(try daemon.call(#"{"method":"torrent-get","arguments":{"fields":["wanted"]},"tag":11}"#).contains(#""wanted":[1]"#))
        _ = try daemon.call(#"{"jsonrpc":"2.0","method":"session_set","params":{"encryption":"allowed"},"id":12}"#)
        #expect(try daemon.call(#"{"jsonrpc":"2.0","method":"session_get","params":{"fields":["encryption"]},"id":13}"#).contains(#""encryption":"allowed""#))
        #expect(try daemon.call(#"{"method":"session-get","arguments":{"fields":["encryption"]},"tag":14}"#).contains(#""encryption":"tolerated""#))
        _ = try daemon.call(#"{"method":"session-set","arguments":{"encryption":"preferred"},"tag":15}"#)
        #expect(waitUntil(seconds: 20) { ((try? daemon.call(#"{"method":"torrent-get","arguments":{"fields":["percentDone"]}}"#)) ?? "").contains(#""percentDone":1"#) })

        // A client that accepts gzip (curl --compressed, as transmission-remote and browsers) gets a
        // large reply gzipped; curl inflates it to the same JSON.
        let url2 = "http://127.0.0.1:\(daemon.rpcPort)/transmission/rpc"
        let big = #"{"method":"session-get","tag":4}"#
        let session = try Tools.run(["curl", "-s", "-i", "-X", "POST", url2]).stdout.split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("x-transmission-session-id:") }.map { String($0.dropFirst(27)).trimmingCharacters(in: .whitespaces) } ?? ""
        let zipped = try Tools.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "--compressed", "-H", "X-Transmission-Session-Id: " + session, "-d", big, url2]).stdout
        #expect(zipped.lowercased().contains("content-encoding: gzip"), "\(zipped)")
        let inflated = try Tools.run(["curl", "-s", "--compressed", "-H", "X-Transmission-Session-Id: " + session, "-d", big, url2]).stdout
        #expect(inflated == (try daemon.call(big)) && inflated.contains(#""rpc-version":17"#), "\(inflated)")

        try daemon.restart()
        let restored = try daemon.call(#"{"method":"torrent-get","arguments":{"fields":["name","percentDone","status"]},"tag":1}"#)
        #expect(restored.contains(#""name":"one.bin","percentDone":1,"status":6"#), "\(restored)")
        #expect(!daemon.process.output.contains("check_finished"), "rechecked after a restart: \(daemon.process.output)")
        // The orderly stop packed the config directory; the restart read that one file.
        #expect(daemon.process.output.contains("restored torrents=1 magnets=0 from=snapshot"), "\(daemon.process.output)")
    }

    // Transmission's web client (Debian's transmission-common), loaded from the daemon in headless
    // Chromium, lists the daemon's torrents with their names and progress, with no script error;
    // the screenshot is kept in .build/test-artifacts.
    @Test func webClientShowsTheTorrents() throws {
        guard Tools.enabled("chromium", "curl"), FileManager.default.fileExists(atPath: "/usr/share/transmission/web/index.html") else {
            return
        }
        let daemon = try Daemon()
        defer { daemon.stop() }
        for (name, size) in [("first-album.bin", 1_500_000), ("second-show.bin", 800_000)] {
            try daemon.directory.write("downloads/" + name, patternBytes(size, seed: UInt64(size)))
            try Tools.check([Tools.evtorrent, "create", daemon.directory.path + "/downloads/" + name, "-o", daemon.directory.path + "/\(name).torrent"])
            let metainfo = try Data(contentsOf: URL(fileURLWithPath: daemon.directory.path + "/\(name).torrent")).base64EncodedString()
            #expect(try daemon.call(#"{"method":"torrent-add","arguments":{"metainfo":"\#(metainfo)"},"tag":1}"#).contains("torrent-added"))
        }
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").components(separatedBy: "100%").count == 3 })
        let page = "http://127.0.0.1:\(daemon.rpcPort)/transmission/web/"
        let browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=8000",
                       "--window-size=1280,800", "--enable-logging=stderr", "--v=0"]
        let dom = try Tools.run(browser + ["--dump-dom", page], seconds: 90)
        #expect(dom.stdout.contains("first-album.bin") && dom.stdout.contains("second-show.bin"), "\(dom.stdout.suffix(2000))")
        #expect(dom.stdout.contains("2 Transfers") && dom.stdout.contains("Seeding"))
        let errors = dom.stderr.split(separator: "\n").filter { $0.contains("Uncaught") }
        #expect(errors.isEmpty, "script errors: \(errors)")
        let artifacts = FileManager.default.currentDirectoryPath + "/.build/test-artifacts"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        _ = try Tools.run(browser + ["--screenshot=" + artifacts + "/daemon-web-client.png", page], seconds: 90)
        #expect(FileManager.default.fileExists(atPath: artifacts + "/daemon-web-client.png"))
    }

    // /metrics: promtool (Debian's prometheus) accepts the exposition, the series say what the
    // daemon holds, and a real Prometheus started here scrapes it and answers a query about it.
    @Test func prometheusScrapesMetrics() throws {
        guard Tools.enabled("promtool", "prometheus", "curl") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        try daemon.directory.write("downloads/metered.bin", patternBytes(400_000, seed: 61))
        try Tools.check([Tools.evtorrent, "create", daemon.directory.path + "/downloads/metered.bin", "-o", daemon.directory.path + "/metered.torrent"])
        try daemon.remote("-a", daemon.directory.path + "/metered.torrent")
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })
        try daemon.remote("-l")  // one more RPC call to count
        // A peer that completes its handshake and stays makes the torrent active: it gets its own series.
        let hash = try #require(try Tools.check([Tools.evtorrent, "info", daemon.directory.path + "/metered.torrent"])
            .split(separator: "\n").first { $0.hasPrefix("Info hash:") }?.split(separator: " ").last.map(String.init))
        let peer = try BackgroundProcess(
            [Tools.python, "-c", """
                import socket, sys, time
                s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
                s.sendall(bytes([19]) + b'BitTorrent protocol' + bytes(8) + bytes.fromhex(sys.argv[2]) + b'-PY0001-' + bytes(12))
                print('handshake', len(s.recv(68)), flush=True)
                time.sleep(60)
                """, String(daemon.peerPort), hash], outputPath: daemon.directory.path + "/peer.log")
        defer { _ = peer.stop(signal: SIGKILL) }
        #expect(peer.waitForOutput("handshake 68", seconds: 10), "\(peer.output)")
        let url = "http://127.0.0.1:\(daemon.rpcPort)/metrics"
        #expect(waitUntil(seconds: 10) { ((try? Tools.check(["curl", "-s", url])) ?? "").contains("evtorrent_torrent_peers{infohash=\"\(hash)\",name=\"metered.bin\"} 1") })
        let text = try Tools.check(["curl", "-s", url])
        for series in ["evtorrent_disk_operation_duration_seconds_bucket{operation=\"read\"", "evtorrent_peers_waiting_on_disk 0",
                       "evtorrent_peer_wire_received_bytes_total 68", "evtorrent_peer_wire_sent_bytes_total", "evtorrent_disk_operations_total{operation=\"write\"} 0"] {
            #expect(text.contains(series), "\(series) missing: \(text)")
        }
        #expect(text.contains(#"evtorrent_torrents{state="seeding"} 1"#), "\(text)")
        #expect(text.contains(#"evtorrent_rpc_requests_total{method="torrent_get"}"#) && text.contains("evtorrent_reactor_lag_seconds_bucket"))
        #expect(text.contains("process_resident_memory_bytes") && text.contains("evtorrent_payload_uploaded_bytes_total"))
        try daemon.directory.write("metrics.txt", Array(text.utf8))
        let check = try Tools.run(["promtool", "check", "metrics"], in: daemon.directory.path, seconds: 30, input: daemon.directory.path + "/metrics.txt")
        #expect(check.status == 0, "promtool: \(check.stdout) \(check.stderr)")

        let prometheusPort = freePort()
        try daemon.directory.write("prometheus.yml", Array("""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: evtorrent
                static_configs:
                  - targets: ['127.0.0.1:\(daemon.rpcPort)']

            """.utf8))
        let prometheus = try BackgroundProcess(
            ["prometheus", "--config.file=" + daemon.directory.path + "/prometheus.yml", "--storage.tsdb.path=" + daemon.directory.path + "/tsdb",
             "--web.listen-address=127.0.0.1:\(prometheusPort)"],
            outputPath: daemon.directory.path + "/prometheus.log")
        defer { _ = prometheus.stop(signal: SIGKILL) }
        let query = "http://127.0.0.1:\(prometheusPort)/api/v1/query?query=evtorrent_torrents%7Bstate%3D%22seeding%22%7D"
        let scraped = waitUntil(seconds: 60) {
            ((try? Tools.run(["curl", "-s", query]))?.stdout ?? "").contains(#""value":["#)
        }
        #expect(scraped, "prometheus did not scrape: \(prometheus.output.suffix(1500))")
        let answer = try Tools.check(["curl", "-s", query])
        #expect(answer.contains(#","1"]"#), "\(answer)")
    }

    // Bad input loses nothing: a client outside the whitelist gets 403, an oversized body is
    // refused and the daemon goes on, removing a torrent in the middle of its verify is clean,
    // and after a restart a torrent whose resume file was corrupted is rechecked with a warning
    // that says so, while the other is trusted untouched.
    @Test func hostileInputAndCorruptResume() throws {
        guard Tools.enabled("curl") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let url = "http://127.0.0.1:\(daemon.rpcPort)/transmission/rpc"
        let outsider = try Tools.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.2", url])
        #expect(outsider.stdout == "403", "from 127.0.0.2: \(outsider.stdout) \(outsider.stderr)")

        try daemon.directory.write("big-body", [UInt8](repeating: 0x20, count: 40 << 20))
        let session = try Tools.run(["curl", "-s", "-i", url]).stdout.split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("x-transmission-session-id:") }.map { String($0) } ?? ""
        let oversized = try Tools.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", session, "--data-binary", "@" + daemon.directory.path + "/big-body", url])
        #expect(oversized.stdout.hasPrefix("4"), "a 40 MiB body got \(oversized.stdout)")
        #expect(try daemon.call(#"{"method":"session-get","arguments":{"fields":["version"]},"tag":1}"#).contains("evtorrent"))

        for (name, seed) in [("keep.bin", 71), ("spoiled.bin", 72), ("gone.bin", 73)] {
            try daemon.directory.write("downloads/" + name, patternBytes(1_000_000, seed: UInt64(seed)))
            try Tools.check([Tools.evtorrent, "create", daemon.directory.path + "/downloads/" + name, "-o", daemon.directory.path + "/\(name).torrent"])
            try daemon.remote("-a", daemon.directory.path + "/\(name).torrent")
        }
        #expect(waitUntil(seconds: 30) { ((try? daemon.remote("-l")) ?? "").components(separatedBy: "100%").count == 4 })
        // A torrent whose files would overwrite another's is refused, and the other is untouched.
        try daemon.directory.write("elsewhere/keep.bin", patternBytes(1_000_000, seed: 99))
        try Tools.check([Tools.evtorrent, "create", daemon.directory.path + "/elsewhere/keep.bin", "-o", daemon.directory.path + "/impostor.torrent"])
        let impostor = try Data(contentsOf: URL(fileURLWithPath: daemon.directory.path + "/impostor.torrent")).base64EncodedString()
        let refused = try daemon.call(#"{"method":"torrent-add","arguments":{"metainfo":"\#(impostor)"},"tag":2}"#)
        #expect(refused.contains("would overwrite") && refused.contains("keep.bin"), "\(refused)")
        // Verify and remove at once.
        try daemon.remote("-t", "3", "-v")
        try daemon.remote("-t", "3", "-r")
        #expect(try !daemon.remote("-l").contains("gone.bin"))

        let spoiled = try Tools.check([Tools.evtorrent, "info", daemon.directory.path + "/spoiled.bin.torrent"])
            .split(separator: "\n").first { $0.hasPrefix("Info hash:") }?.split(separator: " ").last.map(String.init) ?? ""
        // The damaged file replaces the good one, as any writer there does (one edited in place is
        // not noticed while the snapshot of the last orderly stop is current).
        try daemon.restart {
            try daemon.directory.write("junk.resume", Array("d5:junk".utf8))
            #expect(rename(daemon.directory.path + "/junk.resume", daemon.directory.path + "/config/resume/\(spoiled).resume") == 0)
        }
        #expect(daemon.process.waitForOutput("rechecking", seconds: 10))
        let output = daemon.process.output
        #expect(output.contains("torrent=spoiled.bin") && output.contains("corrupt") && !output.contains("torrent=keep.bin"), "\(output)")
        #expect(output.contains("snapshot_ignored") && output.contains("from=files"), "\(output)")
        #expect(waitUntil(seconds: 30) { ((try? daemon.remote("-l")) ?? "").components(separatedBy: "100%").count == 3 })
    }

    // The watch directory: five torrents dropped at once are all added and renamed .added, a
    // broken one is renamed .invalid with a warning. SIGHUP rereads settings.json: turning on
    // authentication there takes effect without a restart.
    @Test func watchDirectoryAndReload() throws {
        guard Tools.enabled("curl") else { return }
        let daemon = try Daemon(["--watch-dir", "$DIR/watch"])
        defer { daemon.stop() }
        let watch = daemon.directory.path + "/watch"
        try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
        for index in 0..<5 {
            try daemon.directory.write("downloads/w\(index).bin", patternBytes(200_000, seed: UInt64(80 + index)))
            try Tools.check([Tools.evtorrent, "create", daemon.directory.path + "/downloads/w\(index).bin", "-o", daemon.directory.path + "/w\(index).torrent"])
        }
        try daemon.directory.write("watch/broken.torrent", Array("d4:info".utf8))
        for index in 0..<5 {
            try FileManager.default.moveItem(atPath: daemon.directory.path + "/w\(index).torrent", toPath: watch + "/w\(index).torrent")
        }
        #expect(waitUntil(seconds: 30) { ((try? daemon.remote("-l")) ?? "").components(separatedBy: "100%").count == 6 })
        let left = try FileManager.default.contentsOfDirectory(atPath: watch).sorted()
        #expect(left == ["broken.torrent.invalid"] + (0..<5).map { "w\($0).torrent.added" }, "\(left)")
        #expect(daemon.process.output.contains("watch_dir_invalid"))

        let settingsPath = daemon.directory.path + "/config/settings.json"
        var settings = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: settingsPath))) as? [String: Any])
        settings["rpc-authentication-required"] = true
        settings["rpc-username"] = "ops"
        settings["rpc-password"] = "pw"
        try JSONSerialization.data(withJSONObject: settings).write(to: URL(fileURLWithPath: settingsPath))
        #expect(kill(daemon.process.pid, SIGHUP) == 0)
        #expect(daemon.process.waitForOutput("settings_reloaded", seconds: 10))
        let url = "http://127.0.0.1:\(daemon.rpcPort)/transmission/rpc"
        #expect(try Tools.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url]).stdout == "401")
        #expect(try Tools.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "ops:pw", url]).stdout == "409")
        #expect(try Tools.check(["transmission-remote", "127.0.0.1:\(daemon.rpcPort)", "-n", "ops:pw", "-l"]).contains("w4.bin"))
    }
}
