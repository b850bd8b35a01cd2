import Foundation
import Testing
import ReactorTesting

/// Local service discovery (BEP 14) between processes on one machine. Linux does not route
/// multicast on `lo` by default, so each test runs its processes in a network namespace of its
/// own (`unshare -n`) with `lo` up, multicast on and a multicast route; where namespaces cannot
/// be made (no root, no unshare) the tests are skipped and say why.
@Suite(.serialized) struct LocalDiscoveryInteropTests {
    typealias Swarm = DownloadInteropTests.Swarm

    /// The commands that make a namespace's `lo` carry multicast.
    static let prepareNamespace = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"

    /// Whether a network namespace with multicast on `lo` can be made here.
    static let canMakeNamespace: Bool = {
        guard Tools.path(of: "unshare") != nil, Tools.path(of: "ip") != nil else {
            print("LocalDiscoveryInteropTests skipped: unshare or ip is missing")
            return false
        }
        let made = (try? Tools.run(["unshare", "-n", "sh", "-c", prepareNamespace]))?.status == 0
        if !made { print("LocalDiscoveryInteropTests skipped: cannot make a network namespace (needs root or CAP_SYS_ADMIN)") }
        return made
    }()

    /// Runs `script` (bash) in a new network namespace prepared for multicast; its output.
    private func inNamespace(_ script: String, _ swarm: Swarm, seconds: Int = 120) throws -> Tools.Output {
        let path = swarm.directory.path + "/netns.sh"
        try swarm.directory.write("netns.sh", Array(("set -u\n" + Self.prepareNamespace + "\n" + script).utf8))
        return try Tools.run(["unshare", "-n", "bash", path], in: swarm.directory.path, seconds: seconds)
    }

    // An evtorrent seed and an evtorrent download of a torrent with no tracker, given no peer:
    // with --lsd they find each other on the local network and the download completes.
    @Test(.enabled(if: canMakeNamespace))
    func twoEvtorrentsFindEachOther() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        let result = try inNamespace(
            """
            "\(Tools.evtorrent)" seed "\(swarm.torrent)" --data "\(swarm.data)" --bind 127.0.0.1 --port 17101 --tracker-port 17102 \
                --session-dir seed-session --lsd > seed.log 2>&1 &
            SEED=$!
            trap 'kill -9 $SEED' EXIT
            sleep 1
            "\(Tools.evtorrent)" download "\(swarm.torrent)" -o dl --bind 127.0.0.1 --port 17103 --session-dir dl-session --lsd --no-seed --verbose
            """, swarm)
        #expect(result.status == 0, "\(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(swarm.matches(swarm.directory.path + "/dl"))
    }

    // A python3-libtorrent seed with local service discovery on, and evtorrent download --lsd:
    // each hears the other and the download completes.
    @Test(.enabled(if: canMakeNamespace && Tools.enabled("libtorrent")))
    func findsALibtorrentSeed() throws {
        let swarm = try Swarm()
        defer { swarm.stop() }
        // Settings later in the dictionary win: LSD on.
        let seed = Tools.libtorrentSession(port: "17111", settings: ", 'enable_lsd': True") + """
            h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
            while not h.status().is_seeding:
                time.sleep(0.1)
            print("seeding", flush=True)
            time.sleep(600)
            """
        try swarm.directory.write("lsd_seed.py", Array(seed.utf8))
        let result = try inNamespace(
            """
            "\(Tools.python)" lsd_seed.py "\(swarm.torrent)" "\(swarm.data)" > libtorrent.log 2>&1 &
            SEED=$!
            trap 'kill -9 $SEED' EXIT
            for i in $(seq 1 100); do grep -q seeding libtorrent.log && break; sleep 0.2; done
            "\(Tools.evtorrent)" download "\(swarm.torrent)" -o dl --bind 127.0.0.1 --port 17113 --session-dir dl-session --lsd --no-seed --verbose
            """, swarm)
        #expect(result.status == 0, "\(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(swarm.matches(swarm.directory.path + "/dl"))
    }
}
