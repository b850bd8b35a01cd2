// Benchmarks/tracker: the embedded tracker's announce cost against the size of the swarm (issue
// 17: it grew with the swarm, ~400 announces/s at 30,000 peers). Fills one swarm with N peers,
// then times re-announces from those peers (numwant 50), median of RUNS. Pure SwarmRegistry: the
// HTTP layer around it does not depend on the swarm.
//   tracker-bench [runs] [announces per run]
import Foundation
import TorrentCore

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let runs = arguments.first ?? 5
let announces = arguments.dropFirst().first ?? 100_000
let hash = InfoHash(bytes: [UInt8](repeating: 7, count: 20))!

func peerID(_ n: Int) -> [UInt8] { Array("-EV0001-".utf8) + withUnsafeBytes(of: UInt32(n).bigEndian, Array.init) + [UInt8](repeating: 0, count: 8) }

var random = SystemRandomNumberGenerator()
print("swarm     announces/s (median of \(runs))   µs per announce   peers per answer")
var baseline: Double?
for size in [30, 3_000, 30_000] {
    var registry = SwarmRegistry(interval: .seconds(1800), maxPeersPerTorrent: 100_000)
    let now = ContinuousClock.now
    let ids = (0..<size).map(peerID)
    for (n, id) in ids.enumerated() {
        var request = AnnounceRequest(infoHash: hash, peerID: id, port: UInt16(truncatingIfNeeded: n))
        request.left = n % 4 == 0 ? 0 : 1000
        _ = registry.announce(request, ip: [10, 0, 0, 1], now: now, random: &random)
    }
    var rates: [Double] = []
    var handed = 0
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        for k in 0..<announces {
            var request = AnnounceRequest(infoHash: hash, peerID: ids[k % size], port: UInt16(truncatingIfNeeded: k % size))
            request.left = 1000
            handed = registry.announce(request, ip: [10, 0, 0, 1], now: now, random: &random)?.peers.count ?? -1
        }
        rates.append(Double(announces) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    }
    let median = rates.sorted()[rates.count / 2]
    baseline = baseline ?? median
    print(String(format: "%6d    %12.0f                  %8.2f          %d   (%.2fx the 30-peer rate)", size, median, 1e6 / median, handed, median / baseline!))
}
