import Testing

@testable import TorrentCore

@Suite struct ChokerTests {
    let start = ContinuousClock.now

    /// Runs `rounds` rechokes 10 s apart over `count` interested peers, applying each decision.
    private func simulate(count: Int, slots: Int?, rounds: Int) -> [Int: Int] {
        var choker = Choker(slots: slots)
        var random = SeededGenerator()
        var peers = (0..<count).map {
            ChokeCandidate(id: $0, isInterested: true, isUnchoked: false, unchokedSince: nil, waitingSince: start + .milliseconds($0))
        }
        var servedRounds: [Int: Int] = [:]
        for round in 0..<rounds {
            let now = start + .seconds(10 * (round + 1))
            let unchoked = choker.rechoke(peers, now: now, random: &random)
            for index in peers.indices {
                let on = unchoked.contains(peers[index].id)
                if on && !peers[index].isUnchoked { peers[index].unchokedSince = now }
                if !on && peers[index].isUnchoked { peers[index].waitingSince = now; peers[index].unchokedSince = nil }
                peers[index].isUnchoked = on
                if on { servedRounds[peers[index].id, default: 0] += 1 }
            }
        }
        return servedRounds
    }

    // Round robin serves every interested peer in turn: 20 peers, 4 slots (+1 optimistic), and
    // after enough rounds nobody has been left out and nobody hogged the slots.
    @Test func roundRobinRotatesThroughEveryPeer() {
        let served = simulate(count: 20, slots: 4, rounds: 30)
        #expect(served.count == 20, "every peer got a turn")
        let counts = served.values.sorted()
        #expect(counts.last! - counts.first! <= 6, "turns are roughly even: \(counts)")
    }

    // At most slots + 1 peers are unchoked; unlimited slots unchoke every interested peer and
    // never an uninterested one.
    @Test func respectsSlotsAndInterest() {
        var choker = Choker(slots: 3)
        var random = SeededGenerator()
        let peers = (0..<10).map {
            ChokeCandidate(id: $0, isInterested: $0 % 2 == 0, isUnchoked: false, unchokedSince: nil, waitingSince: start)
        }
        let some = choker.rechoke(peers, now: start, random: &random)
        #expect(some.count == 4 && some.allSatisfy { $0 % 2 == 0 })
        var unlimited = Choker(slots: nil)
        #expect(unlimited.rechoke(peers, now: start, random: &random) == [0, 2, 4, 6, 8])
    }

    // Fastest-upload keeps the fastest peers; the optimistic slot goes to someone else.
    @Test func fastestUploadPrefersRate() {
        var choker = Choker(slots: 2, algorithm: .fastestUpload)
        var random = SeededGenerator()
        let peers = (0..<6).map {
            ChokeCandidate(id: $0, isInterested: true, isUnchoked: false, unchokedSince: nil, waitingSince: start, uploadRate: $0 * 1000)
        }
        let unchoked = choker.rechoke(peers, now: start, random: &random)
        #expect(unchoked.isSuperset(of: [5, 4]) && unchoked.count == 3)
    }
}
