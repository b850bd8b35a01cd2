import Foundation
import Testing
import ReactorTesting

/// `torrent-set` as users run it: files skipped and wanted again while python3-libtorrent seeds
/// to the daemon, a torrent's own limits kept across a restart, the queue order.
@Suite(.serialized) struct DaemonTorrentSetInteropTests {
    typealias Daemon = DaemonInteropTests.Daemon

    /// A python3-libtorrent seed that dials the daemon (argv: torrent, data, port, daemon port).
    static let seedDialling = """
        import sys, time, libtorrent as lt
        ses = lt.session({'listen_interfaces': '127.0.0.1:%s' % sys.argv[3], 'enable_dht': False,
                          'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                          'enable_outgoing_utp': False, 'enable_incoming_utp': False})
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
        while not h.status().is_seeding:
            time.sleep(0.1)
        print("seeding", flush=True)
        while True:
            if h.status().num_peers == 0:
                h.connect_peer(('127.0.0.1', int(sys.argv[4])))
            time.sleep(0.5)
        """

    // A torrent added with its second file unwanted (as torrent-add takes files-unwanted)
    // downloads only the first from libtorrent and reports 100 % of what is wanted; wanted again
    // with torrent-set, the second follows and both are byte-identical. Its own limits, peer limit
    // and seeding mode read back, and survive a restart; queue moves reorder the list, and the
    // order survives the restart.
    @Test func filesWantedLimitsAndQueue() throws {
        guard Tools.enabled("curl", "libtorrent") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let root = daemon.directory.path
        try daemon.directory.write("seed/pair/a.bin", patternBytes(1_000_000, seed: 81))
        try daemon.directory.write("seed/pair/b.bin", patternBytes(1_200_000, seed: 82))
        try Tools.check([Tools.evtorrent, "create", root + "/seed/pair", "-o", root + "/pair.torrent", "--piece-length", "16384"])
        let added = try daemon.call(#"{"method":"torrent-add","arguments":{"filename":"\#(root)/pair.torrent","files-unwanted":[1]}}"#)
        #expect(added.contains("torrent-added"), "\(added)")
        let seed = try BackgroundProcess(
            [Tools.python, "-c", Self.seedDialling, root + "/pair.torrent", root + "/seed", String(freePort()), String(daemon.peerPort)],
            outputPath: root + "/lt.log")
        defer { _ = seed.stop(signal: SIGKILL) }
        let fields = #"{"method":"torrent-get","arguments":{"fields":["percentDone","sizeWhenDone","totalSize","leftUntilDone","wanted","fileStats"]}}"#
        #expect(waitUntil(seconds: 60) { ((try? daemon.call(fields)) ?? "").contains(#""percentDone":1"#) }, "\(daemon.process.output) \(seed.output)")
        let partial = try daemon.call(fields)
        #expect(partial.contains(#""sizeWhenDone":10"#) && partial.contains(#""totalSize":2200000"#) && partial.contains(#""wanted":[1,0]"#), "\(partial)")
        #expect(FileManager.default.contentsEqual(atPath: root + "/seed/pair/a.bin", andPath: root + "/downloads/pair/a.bin"))
        #expect(!FileManager.default.contentsEqual(atPath: root + "/seed/pair/b.bin", andPath: root + "/downloads/pair/b.bin"))

        #expect(try daemon.call(#"{"method":"torrent-set","arguments":{"ids":[1],"files-wanted":[1]}}"#).contains("success"))
        #expect(waitUntil(seconds: 60) {
            ((try? daemon.call(fields)) ?? "").contains(#""percentDone":1,"sizeWhenDone":2200000"#)
        }, "\((try? daemon.call(fields)) ?? "")")
        #expect(FileManager.default.contentsEqual(atPath: root + "/seed/pair/b.bin", andPath: root + "/downloads/pair/b.bin"))
        let bad = try daemon.call(#"{"method":"torrent-set","arguments":{"ids":[1],"files-unwanted":[7]}}"#)
        #expect(bad.contains("no file 7 in torrent 1"), "\(bad)")

        // Its own limits and seeding mode.
        let set = #"{"method":"torrent-set","arguments":{"ids":[1],"uploadLimit":50,"uploadLimited":true,"downloadLimit":70,"downloadLimited":true,"peer-limit":7,"seedRatioMode":1,"seedRatioLimit":3.5,"bandwidthPriority":1}}"#
        #expect(try daemon.call(set).contains("success"))
        let limits = #"{"method":"torrent-get","arguments":{"fields":["uploadLimit","uploadLimited","downloadLimit","downloadLimited","peer-limit","seedRatioMode","seedRatioLimit","bandwidthPriority"]}}"#
        let expected = #""uploadLimit":50,"uploadLimited":true,"downloadLimit":70,"downloadLimited":true,"peer-limit":7,"seedRatioMode":1,"seedRatioLimit":3.5,"bandwidthPriority":1"#
        #expect(try daemon.call(limits).contains(expected), "\((try? daemon.call(limits)) ?? "")")

        // Queue order: a second torrent, moved to the top.
        try daemon.directory.write("downloads/solo.bin", patternBytes(100_000, seed: 83))
        try Tools.check([Tools.evtorrent, "create", root + "/downloads/solo.bin", "-o", root + "/solo.torrent"])
        #expect(try daemon.call(#"{"method":"torrent-add","arguments":{"filename":"\#(root)/solo.torrent"}}"#).contains("torrent-added"))
        #expect(try daemon.call(#"{"method":"queue-move-top","arguments":{"ids":[2]}}"#).contains("success"))
        let queue = try daemon.call(#"{"method":"torrent-get","arguments":{"fields":["id","queuePosition"]}}"#)
        #expect(queue.contains(#"{"id":1,"queuePosition":1}"#) && queue.contains(#"{"id":2,"queuePosition":0}"#), "\(queue)")

        try daemon.restart()
        #expect(try daemon.call(limits).contains(expected), "\((try? daemon.call(limits)) ?? "")")
        // The queue order survives the restart too.
        let order = try daemon.call(#"{"method":"torrent-get","arguments":{"fields":["name","queuePosition"]}}"#)
        #expect(order.contains(#"{"name":"solo.bin","queuePosition":0}"#), "\(order)")
        let restored = try daemon.call(fields)
        #expect(restored.contains(#""wanted":[1,1]"#) && restored.contains(#""percentDone":1"#), "\(restored)")
    }

    // The download queue: with download-queue-size 1 (session-set), of three torrents with no
    // data and no peers the first in the queue downloads and the others wait as "Queued"
    // (status 3, transmission-remote -l); stopping the first starts the second; start-now starts
    // the third past the queue; a queued torrent is not saved as paused, so after a restart the
    // queue, not the user, holds it back.
    @Test func downloadQueue() throws {
        guard Tools.enabled("curl", "transmission-remote") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let root = daemon.directory.path
        #expect(try daemon.call(#"{"method":"session-set","arguments":{"download-queue-size":1}}"#).contains("success"))
        for name in ["one", "two", "three"] {
            try daemon.directory.write("elsewhere/\(name).bin", patternBytes(300_000, seed: UInt64(name.count)))
            try Tools.check([Tools.evtorrent, "create", root + "/elsewhere/\(name).bin", "-o", root + "/\(name).torrent"])
            #expect(try daemon.remote("-a", root + "/\(name).torrent").contains("success"))
        }
        let statuses = #"{"method":"torrent-get","arguments":{"fields":["id","status"]}}"#
        func status() -> String { (try? daemon.call(statuses)) ?? "" }
        #expect(waitUntil(seconds: 15) {
            let now = status()
            return now.contains(#"{"id":1,"status":4}"#) && now.contains(#"{"id":2,"status":3}"#) && now.contains(#"{"id":3,"status":3}"#)
        }, "\(status())")
        let list = try daemon.remote("-l")
        #expect(list.components(separatedBy: "Queued").count == 3, "\(list)")
        let session = try daemon.call(#"{"method":"session-get","arguments":{"fields":["download-queue-enabled","download-queue-size"]}}"#)
        #expect(session.contains(#""download-queue-enabled":true"#) && session.contains(#""download-queue-size":1"#), "\(session)")

        try daemon.remote("-t", "1", "-S")
        #expect(waitUntil(seconds: 10) {
            let now = status()
            return now.contains(#"{"id":1,"status":0}"#) && now.contains(#"{"id":2,"status":4}"#) && now.contains(#"{"id":3,"status":3}"#)
        }, "\(status())")
        #expect(try daemon.call(#"{"method":"torrent-start-now","arguments":{"ids":[3]}}"#).contains("success"))
        #expect(waitUntil(seconds: 10) { status().contains(#"{"id":3,"status":4}"#) }, "\(status())")
        #expect(status().contains(#"{"id":2,"status":4}"#), "\(status())")

        // After a restart: one is paused by the user, the other two want to download, one place.
        try daemon.restart()
        #expect(waitUntil(seconds: 15) {
            let now = status()
            return now.contains(#""status":0"#) && now.contains(#""status":4"#) && now.contains(#""status":3"#)
        }, "\(status())")
    }
}
