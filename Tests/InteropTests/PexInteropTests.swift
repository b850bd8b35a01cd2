import Foundation
import Testing
import ReactorTesting

/// Peer exchange (BEP 11) with python3-libtorrent on loopback, both ways: a three-peer swarm in
/// which evtorrent learns of the seed only from libtorrent in the middle, and libtorrent learns of
/// a peer only from evtorrent in the middle.
@Suite(.serialized) struct PexInteropTests {
    typealias Swarm = DownloadInteropTests.Swarm

    /// A libtorrent peer of the torrent (argv 1) saving to argv 2 on port argv 3, that connects
    /// to 127.0.0.1:argv 4, with its download and upload capped at argv 5 bytes/s; it prints the
    /// peers it knows and where they came from every half second.
    static let libtorrentMiddle = Tools.libtorrentSession() + """
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
        h.set_download_limit(int(sys.argv[5])); h.set_upload_limit(int(sys.argv[5]))
        print("started", flush=True)
        while True:
            if sys.argv[4] != '0':
                h.connect_peer(('127.0.0.1', int(sys.argv[4])))
            for p in h.get_peer_info():
                print("peer %s:%d pex=%d" % (p.ip[0], p.ip[1], 1 if p.source & lt.peer_info.pex else 0), flush=True)
            time.sleep(0.5)
        """

    // C seeds (evtorrent); B (libtorrent, nearly no bandwidth) connects to C; A (evtorrent
    // download) is given only B. B's PEX names C, A dials it and completes: its bytes could not
    // have come from B.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func evtorrentLearnsTheSeedFromLibtorrent() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let seedPort = freePort()
        let seed = try BackgroundProcess(
            [Tools.evtorrent, "seed", swarm.torrent, "--data", swarm.data, "--bind", "127.0.0.1", "--port", String(seedPort),
             "--tracker-port", String(freePort()), "--session-dir", swarm.directory.path + "/seed-session"],
            outputPath: swarm.directory.path + "/seed.log")
        swarm.seeders.append(("evtorrent", seed, seedPort))
        try #require(seed.waitForOutput("peers ", seconds: 60), "seed did not start: \(seed.output)")
        let middlePort = freePort()
        let middle = try BackgroundProcess(
            [Tools.python, "-c", Self.libtorrentMiddle, swarm.torrent, swarm.directory.path + "/middle", String(middlePort), String(seedPort), "1024"],
            outputPath: swarm.directory.path + "/middle.log")
        swarm.seeders.append(("libtorrent", middle, middlePort))
        try #require(middle.waitForOutput("peer 127.0.0.1:\(seedPort)", seconds: 30), "libtorrent never reached the seed: \(middle.output.suffix(1000))")
        let result = try Tools.run(
            [Tools.evtorrent, "download", swarm.torrent, "-o", swarm.directory.path + "/dl", "--bind", "127.0.0.1",
             "--port", String(freePort()), "--session-dir", swarm.directory.path + "/dl-session", "--no-seed", "--verbose",
             "--peer", "127.0.0.1:\(middlePort)"], seconds: 150)
        #expect(result.status == 0, "\(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(swarm.matches(swarm.directory.path + "/dl"))
    }

    // A (libtorrent) is given only B (evtorrent download from C, a libtorrent seed slow enough
    // that B is still downloading from it, so still connected); B's PEX names C, and A lists C
    // as a peer learned by PEX.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func libtorrentLearnsAPeerFromEvtorrent() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let seedPort = freePort()
        let seed = try BackgroundProcess(
            [Tools.python, "-c", Self.libtorrentMiddle, swarm.torrent, swarm.data, String(seedPort), "0", "4096"],
            outputPath: swarm.directory.path + "/seed.log")
        swarm.seeders.append(("libtorrent", seed, seedPort))
        try #require(seed.waitForOutput("started", seconds: 30), "\(seed.output)")
        let middlePort = freePort()
        let middle = try BackgroundProcess(
            [Tools.evtorrent, "download", swarm.torrent, "-o", swarm.directory.path + "/middle", "--bind", "127.0.0.1",
             "--port", String(middlePort), "--session-dir", swarm.directory.path + "/middle-session", "--upload-limit", "1",
             "--peer", "127.0.0.1:\(seedPort)"],
            outputPath: swarm.directory.path + "/middle.log")
        swarm.seeders.append(("evtorrent", middle, middlePort))
        try #require(middle.waitForOutput("peers ", seconds: 30), "\(middle.output)")
        let learner = try BackgroundProcess(
            [Tools.python, "-c", Self.libtorrentMiddle, swarm.torrent, swarm.directory.path + "/learner", String(freePort()), String(middlePort), "1024"],
            outputPath: swarm.directory.path + "/learner.log")
        swarm.seeders.append(("learner", learner, 0))
        #expect(learner.waitForOutput("peer 127.0.0.1:\(seedPort) pex=1", seconds: 40), "libtorrent did not hear of the seed by PEX: \(learner.output.suffix(1500))")
    }
}
