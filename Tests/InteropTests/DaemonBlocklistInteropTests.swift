import Foundation
import Testing
import ReactorTesting

/// IP blocklists as transmission-daemon users run them: `blocklist-url` set over the RPC,
/// Debian's transmission-remote asks for `--blocklist-update`, the daemon fetches the gzip'd list
/// from an HTTP server, keeps it in its config directory and refuses peers from its ranges.
@Suite(.serialized) struct DaemonBlocklistInteropTests {
    typealias Daemon = DaemonInteropTests.Daemon

    /// Connects from `argv[1]` to the peer port `argv[2]` and sends a BitTorrent handshake for the
    /// info hash `argv[3]`; prints how many bytes of the answer came back (0: refused).
    static let handshake = """
        import socket, sys
        s = socket.socket()
        s.bind((sys.argv[1], 0))
        s.settimeout(5)
        s.connect(('127.0.0.1', int(sys.argv[2])))
        try:
            s.sendall(b'\\x13BitTorrent protocol' + bytes(8) + bytes.fromhex(sys.argv[3]) + b'-PY0001-123456789012')
            data = s.recv(68)
        except OSError:
            data = b''
        print(len(data))
        """

    // transmission-remote --blocklist-update: the list (P2P, CIDR and a comment, gzip'd) is
    // fetched and counted; a peer from a listed address gets no answer while one from beside it
    // gets the handshake; /metrics counts the refusal; a list that is not one (an HTML page) is
    // refused with the old list kept; the list is loaded again after a restart.
    @Test func blocklistUpdateRefusesListedPeers() throws {
        guard Tools.enabled("transmission-remote", "curl") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let root = daemon.directory.path
        try daemon.directory.write("downloads/shared.bin", patternBytes(200_000, seed: 91))
        try Tools.check([Tools.evtorrent, "create", root + "/downloads/shared.bin", "-o", root + "/shared.torrent"])
        #expect(try daemon.call(#"{"method":"torrent-add","arguments":{"filename":"\#(root)/shared.torrent"}}"#).contains("torrent-added"))
        let hashes = try daemon.call(#"{"method":"torrent-get","arguments":{"fields":["hashString"]}}"#)
        let infoHash = try #require(hashes.range(of: #"[0-9a-f]{40}"#, options: .regularExpression).map { String(hashes[$0]) })

        try FileManager.default.createDirectory(atPath: root + "/www", withIntermediateDirectories: true)
        let list = Data("# test list\nTest net:127.0.0.5-127.0.0.5\n10.0.0.0/8\n".utf8)
        try daemon.directory.write("www/list.txt", Array(list))
        try Tools.check(["sh", "-c", "gzip -c \(root)/www/list.txt > \(root)/www/list.gz"])
        try daemon.directory.write("www/page.html", Array("<html><body>Not found</body></html>\n".utf8))
        let port = freePort()
        let server = try BackgroundProcess(
            [Tools.python, "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root + "/www"],
            outputPath: root + "/http.log")
        defer { _ = server.stop(signal: SIGKILL) }
        #expect(waitUntil(seconds: 10) { ((try? Tools.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]))?.status ?? 1) == 0 })

        let set = #"{"method":"session-set","arguments":{"blocklist-enabled":true,"blocklist-url":"http://127.0.0.1:\#(port)/list.gz"}}"#
        #expect(try daemon.call(set).contains("success"))
        let updated = try daemon.remote("--blocklist-update")
        #expect(updated.contains("success"), "\(updated)")
        let session = try daemon.call(#"{"method":"session-get","arguments":{"fields":["blocklist-enabled","blocklist-size","blocklist-url"]}}"#)
        #expect(session.contains(#""blocklist-enabled":true"#) && session.contains(#""blocklist-size":2"#), "\(session)")
        #expect(FileManager.default.fileExists(atPath: root + "/config/blocklists/blocklist"))

        func answer(from host: String) throws -> String {
            try Tools.run([Tools.python, "-c", Self.handshake, host, String(daemon.peerPort), infoHash]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try answer(from: "127.0.0.5") == "0")
        #expect(try answer(from: "127.0.0.6") == "68")
        let metrics = try Tools.run(["curl", "-s", "http://127.0.0.1:\(daemon.rpcPort)/metrics"]).stdout
        #expect(metrics.contains(#"evtorrent_connections_refused_total{reason="blocklist"} 1"#), "\(metrics.prefix(2000))")

        // Not a list: refused, and the old one stays.
        #expect(try daemon.call(#"{"method":"session-set","arguments":{"blocklist-url":"http://127.0.0.1:\#(port)/page.html"}}"#).contains("success"))
        let refused = try daemon.call(#"{"method":"blocklist-update"}"#)
        #expect(refused.contains("was not taken: no rules in it"), "\(refused)")
        #expect(try daemon.call(#"{"method":"session-get"}"#).contains(#""blocklist-size":2"#))

        try daemon.restart()
        #expect(daemon.process.waitForOutput("blocklist_loaded", seconds: 20), "\(daemon.process.output)")
        #expect(try daemon.call(#"{"method":"session-get"}"#).contains(#""blocklist-size":2"#))
        #expect(try answer(from: "127.0.0.5") == "0")

        // Turned off: nobody is refused.
        #expect(try daemon.call(#"{"method":"session-set","arguments":{"blocklist-enabled":false}}"#).contains("success"))
        #expect(waitUntil(seconds: 10) { ((try? answer(from: "127.0.0.5")) ?? "") == "68" })
    }
}
