import Foundation
import Testing
import ReactorTesting

/// The daemon killed with kill -9 while 1,000 torrents seed: the restart trusts every resume file
/// whose files are unchanged (rtorrent and qBittorrent recheck everything after a crash).
@Suite(.serialized) struct DaemonCrashInteropTests {
    typealias Daemon = DaemonInteropTests.Daemon

    /// Writes `count` one-piece torrents with their data: argv data-dir torrent-dir count.
    static let generate = """
        import hashlib, os, sys
        def bencode(v):
            if isinstance(v, int): return b"i%de" % v
            if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
            if isinstance(v, str): return bencode(v.encode())
            return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
        data, torrents, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
        for i in range(count):
            content = hashlib.sha256(b"%d" % i).digest() * 256
            name = "c%04d.bin" % i
            open(os.path.join(data, name), "wb").write(content)
            info = {"name": name, "length": len(content), "piece length": 16384, "pieces": hashlib.sha1(content).digest()}
            open(os.path.join(torrents, name + ".torrent"), "wb").write(bencode({"info": info}))
        """

    private static func seedingCount(_ daemon: Daemon) -> Int {
        let reply = (try? daemon.call(#"{"method":"torrent-get","arguments":{"fields":["status"]}}"#)) ?? ""
        return reply.components(separatedBy: #""status":6"#).count - 1
    }

    @Test func killedWithAThousandSeedingRechecksNothing() throws {
        guard Tools.enabled("curl") else { return }
        let daemon = try Daemon(["--watch-dir", "$DIR/watch"])
        defer { daemon.stop() }
        let root = daemon.directory.path
        try FileManager.default.createDirectory(atPath: root + "/made", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/watch", withIntermediateDirectories: true)
        try Tools.check([Tools.python, "-c", Self.generate, root + "/downloads", root + "/made", "1000"])
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/made") {
            try FileManager.default.moveItem(atPath: root + "/made/" + name, toPath: root + "/watch/" + name)
        }
        #expect(waitUntil(seconds: 120) { Self.seedingCount(daemon) == 1000 }, "\(Self.seedingCount(daemon)) seeding")
        // Every check's resume file is written once its check ends; give the last ones a moment.
        Thread.sleep(forTimeInterval: 2)
        #expect(daemon.process.stop(signal: SIGKILL) != 0)

        daemon.process = try Daemon.start(root, rpcPort: daemon.rpcPort, peerPort: daemon.peerPort, log: "daemon2.log", extra: daemon.extra)
        #expect(daemon.process.waitForOutput("rpc ", seconds: 30), "daemon did not restart: \(daemon.process.output)")
        #expect(waitUntil(seconds: 30) { Self.seedingCount(daemon) == 1000 }, "\(Self.seedingCount(daemon)) seeding after the restart")
        let output = daemon.process.output
        #expect(output.contains("restored torrents=1000"), "\(output.prefix(2000))")
        #expect(!output.contains("rechecking") && !output.contains("check_finished"), "rechecked after kill -9: \(output.prefix(3000))")
    }
}
