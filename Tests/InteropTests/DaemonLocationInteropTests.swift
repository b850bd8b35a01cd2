import Foundation
import Testing
import ReactorTesting

/// `torrent-set-location` as users run it: transmission-remote `--move`, onto a full disk, and a
/// daemon killed in the middle of a move.
@Suite(.serialized) struct DaemonLocationInteropTests {
    typealias Daemon = DaemonInteropTests.Daemon

    private static func sha1(_ path: String) throws -> String {
        String(try Tools.check(["sha1sum", path]).prefix(40))
    }

    // transmission-remote moves a seeding torrent's data to another directory: the files are
    // there whole, the old folder is gone, the torrent seeds again at 100 % from its new place.
    // A move onto a full filesystem (a 1 MiB tmpfs) fails: every file stays where it was, nothing
    // is left on the small disk, the torrent seeds on and its error says what happened.
    @Test func moveWithTransmissionRemoteAndOntoAFullDisk() throws {
        guard Tools.enabled("transmission-remote", "curl") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let root = daemon.directory.path
        try daemon.directory.write("downloads/album/track1.bin", patternBytes(2_000_000, seed: 61))
        try daemon.directory.write("downloads/album/disc/track2.bin", patternBytes(700_001, seed: 62))
        try daemon.directory.write("downloads/keep-me.txt", Array("not the torrent's".utf8))
        let sums = try ["track1.bin", "disc/track2.bin"].map { try Self.sha1(root + "/downloads/album/" + $0) }
        try Tools.check([Tools.evtorrent, "create", root + "/downloads/album", "-o", root + "/album.torrent"])
        #expect(try daemon.remote("-a", root + "/album.torrent").contains("success"))
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })

        #expect(try daemon.remote("-t", "1", "--move", root + "/moved").contains("success"))
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-t", "1", "-i")) ?? "").contains("Location: \(root)/moved") })
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })
        #expect(try Self.sha1(root + "/moved/album/track1.bin") == sums[0])
        #expect(try Self.sha1(root + "/moved/album/disc/track2.bin") == sums[1])
        #expect(!FileManager.default.fileExists(atPath: root + "/downloads/album"))
        #expect(FileManager.default.fileExists(atPath: root + "/downloads/keep-me.txt"))
        #expect(try !daemon.remote("-l").contains("Stopped"))

        // A full disk: mounting a tmpfs needs root (as CI runs); elsewhere this half is skipped.
        let small = root + "/small"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mounted = ((try? Tools.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small]))?.status ?? 1) == 0
        if !mounted {
            #expect(!Tools.required || getuid() != 0, "could not mount a tmpfs for the full-disk test")
            return
        }
        defer { _ = try? Tools.run(["umount", small]) }
        #expect(try daemon.remote("-t", "1", "--move", small).contains("success"))
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-t", "1", "-i")) ?? "").contains("moving its data failed") })
        let details = try daemon.remote("-t", "1", "-i")
        #expect(details.contains("Location: \(root)/moved"), "\(details)")
        #expect(details.contains("No space left on device"), "\(details)")
        #expect(try Self.sha1(root + "/moved/album/track1.bin") == sums[0])
        #expect(try Self.sha1(root + "/moved/album/disc/track2.bin") == sums[1])
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: small)) ?? ["?"]).isEmpty)
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })
        #expect(try !daemon.remote("-l").contains("Stopped"))
    }

    // kill -9 while a move copies across filesystems (/tmp to /dev/shm): the restart finishes the
    // move; every file is whole at the new place, none is left at the old, and nothing is
    // rechecked (the copies keep their mtimes).
    @Test func killedDuringAMoveLosesNothing() throws {
        guard Tools.enabled("curl"), FileManager.default.fileExists(atPath: "/dev/shm") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let root = daemon.directory.path
        for index in 0..<4 {
            try daemon.directory.write("downloads/big/part\(index).bin", [])
            try Tools.check(["sh", "-c", "head -c 50331648 /dev/urandom > \(root)/downloads/big/part\(index).bin"])
        }
        let sums = try (0..<4).map { try Self.sha1(root + "/downloads/big/part\($0).bin") }
        try Tools.check([Tools.evtorrent, "create", root + "/downloads/big", "-o", root + "/big.torrent"])
        #expect(try daemon.call(#"{"method":"torrent-add","arguments":{"filename":"\#(root)/big.torrent"}}"#).contains("torrent-added"))
        #expect(waitUntil(seconds: 60) {
            ((try? daemon.call(#"{"method":"torrent-get","arguments":{"fields":["percentDone"]}}"#)) ?? "").contains(#""percentDone":1"#)
        })
        // Let the first resume file be written.
        Thread.sleep(forTimeInterval: 1)

        let target = "/dev/shm/evtorrent-move-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: target) }
        _ = try daemon.call(#"{"method":"torrent-set-location","arguments":{"ids":[1],"location":"\#(target)","move":true}}"#)
        // Kill it as soon as a copy is under way.
        var caught = false
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: target)) ?? []
            if names.contains(where: { $0.hasSuffix(".evtorrent-move") }) {
                _ = daemon.process.stop(signal: SIGKILL)
                caught = true
                break
            }
            usleep(1000)
        }
        #expect(caught, "no copy was seen under way")
        let complete = ((try? FileManager.default.subpathsOfDirectory(atPath: target + "/big")) ?? []).filter { !$0.hasSuffix(".evtorrent-move") }
        #expect(complete.count < 4, "the move had finished before the kill: \(complete)")

        daemon.process = try Daemon.start(root, rpcPort: daemon.rpcPort, peerPort: daemon.peerPort, log: "daemon2.log", extra: daemon.extra)
        #expect(daemon.process.waitForOutput("rpc ", seconds: 30), "daemon did not restart: \(daemon.process.output)")
        #expect(waitUntil(seconds: 60) {
            let reply = (try? daemon.call(#"{"method":"torrent-get","arguments":{"fields":["downloadDir","percentDone","status"]}}"#)) ?? ""
            return reply.contains(#""downloadDir":"\#(target)","percentDone":1,"status":6"#)
        }, "\(daemon.process.output)")
        #expect(daemon.process.output.contains("move_resumed"), "\(daemon.process.output)")
        for index in 0..<4 { #expect(try Self.sha1(target + "/big/part\(index).bin") == sums[index]) }
        #expect(!FileManager.default.fileExists(atPath: root + "/downloads/big"))
        #expect(((try? FileManager.default.subpathsOfDirectory(atPath: target)) ?? []).allSatisfy { !$0.hasSuffix(".evtorrent-move") })
        #expect(!daemon.process.output.contains("check_finished"), "rechecked after the move: \(daemon.process.output)")
    }

    // Renaming over the RPC (the web client's rename): the top folder and a file are renamed on
    // disk and in the torrent's names, the torrent seeds on without a recheck, and a restart
    // keeps the names. Then transmission-remote --find points it at data a user moved by hand:
    // it is checked there and seeds.
    @Test func renamePathAndFind() throws {
        guard Tools.enabled("transmission-remote", "curl") else { return }
        let daemon = try Daemon()
        defer { daemon.stop() }
        let root = daemon.directory.path
        try daemon.directory.write("downloads/album/one.bin", patternBytes(300_000, seed: 71))
        try daemon.directory.write("downloads/album/disc/two.bin", patternBytes(200_000, seed: 72))
        try Tools.check([Tools.evtorrent, "create", root + "/downloads/album", "-o", root + "/album.torrent"])
        #expect(try daemon.remote("-a", root + "/album.torrent").contains("success"))
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })

        let file = try daemon.call(#"{"method":"torrent-rename-path","arguments":{"ids":[1],"path":"album/disc/two.bin","name":"2.bin"},"tag":3}"#)
        #expect(file == #"{"arguments":{"path":"album/disc/two.bin","name":"2.bin","id":1},"result":"success","tag":3}"#, "\(file)")
        let top = try daemon.call(#"{"method":"torrent-rename-path","arguments":{"ids":[1],"path":"album","name":"Album (2024)"}}"#)
        #expect(top.contains(#""result":"success""#), "\(top)")
        let escape = try daemon.call(#"{"method":"torrent-rename-path","arguments":{"ids":[1],"path":"Album (2024)/one.bin","name":"../../x"}}"#)
        #expect(escape.contains("invalid name"), "\(escape)")
        #expect(FileManager.default.fileExists(atPath: root + "/downloads/Album (2024)/one.bin"))
        #expect(FileManager.default.fileExists(atPath: root + "/downloads/Album (2024)/disc/2.bin"))
        #expect(!FileManager.default.fileExists(atPath: root + "/downloads/album"))
        let fields = #"{"method":"torrent-get","arguments":{"fields":["name","percentDone","files"]}}"#
        #expect(waitUntil(seconds: 20) { ((try? daemon.call(fields)) ?? "").contains(#""percentDone":1"#) })
        let listed = try daemon.call(fields)
        #expect(listed.contains(#""name":"Album (2024)""#) && listed.contains(#""name":"Album (2024)/disc/2.bin""#), "\(listed)")
        #expect(daemon.process.output.components(separatedBy: "check_finished").count == 2, "rechecked after a rename: \(daemon.process.output)")

        try daemon.restart()
        let restored = try daemon.call(fields)
        #expect(restored.contains(#""name":"Album (2024)""#) && restored.contains(#""percentDone":1"#), "\(restored)")

        // The user moves the data by hand; --find tells the daemon where it is now.
        try FileManager.default.createDirectory(atPath: root + "/found", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: root + "/downloads/Album (2024)", toPath: root + "/found/Album (2024)")
        #expect(try daemon.remote("-t", "1", "--find", root + "/found").contains("success"))
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-t", "1", "-i")) ?? "").contains("Location: \(root)/found") })
        #expect(waitUntil(seconds: 20) { ((try? daemon.remote("-l")) ?? "").contains("100%") })
        #expect(daemon.process.output.contains("check_finished"), "--find did not check the data: \(daemon.process.output)")
    }
}
