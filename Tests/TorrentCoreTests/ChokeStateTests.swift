import Testing

@testable import TorrentCore

@Suite struct ChokeStateTests {
    let start = ContinuousClock.now
    var random = SplitMix64(seed: 3)

    // A peer that becomes interested while a slot is free is unchoked at once; with every slot
    // taken it waits for a rechoke; losing interest chokes it and frees its slot.
    @Test func unchokesAtOnceWhileASlotIsFree() {
        var state = ChokeState(choker: Choker(slots: 1, algorithm: .roundRobin))
        state.peerJoined(PeerKey(1), now: start)
        state.peerJoined(PeerKey(2), now: start)
        #expect(state.interestChanged(PeerKey(1), interested: true, now: start) == [.unchoke(PeerKey(1))])
        #expect(state.interestChanged(PeerKey(2), interested: true, now: start).isEmpty)
        #expect(state.interestedCount == 2 && state.unchokedCount == 1)
        #expect(state.interestChanged(PeerKey(1), interested: false, now: start) == [.choke(PeerKey(1))])
        #expect(state.unchokedCount == 0 && state.interestedCount == 1)
    }

    // With unlimited slots every interested peer is served; a rechoke changes nothing for them
    // and chokes nobody.
    @Test mutating func unlimitedSlotsServeEveryone() {
        var state = ChokeState(choker: Choker(slots: nil))
        for key in 1...5 {
            state.peerJoined(PeerKey(key), now: start)
            #expect(state.interestChanged(PeerKey(key), interested: true, now: start) == [.unchoke(PeerKey(key))])
        }
        #expect(state.rechoke(rates: [:], now: start + .seconds(10), random: &random).isEmpty)
        #expect(state.unchokedCount == 5)
    }

    // Round robin with one slot plus the optimistic one, three peers: at most two are served at
    // a time, every peer gets its turn within a minute, and the kept count always matches the
    // choke and unchoke actions given out.
    @Test mutating func rechokeRotatesTheSlot() {
        var state = ChokeState(choker: Choker(slots: 1, algorithm: .roundRobin))
        var served: Set<PeerKey> = []
        var everServed: Set<PeerKey> = []
        func apply(_ actions: [ChokeAction]) {
            for action in actions {
                switch action {
                case .unchoke(let key): served.insert(key); everServed.insert(key)
                case .choke(let key): served.remove(key)
                }
            }
        }
        for key in 1...3 {
            state.peerJoined(PeerKey(key), now: start)
            apply(state.interestChanged(PeerKey(key), interested: true, now: start))
        }
        #expect(served == [PeerKey(1)])
        var now = start
        for _ in 0..<6 {
            now += .seconds(10)
            apply(state.rechoke(rates: [:], now: now, random: &random))
            #expect(served.count <= 2 && state.unchokedCount == served.count)
        }
        #expect(everServed == [PeerKey(1), PeerKey(2), PeerKey(3)])
    }

    // A peer that leaves takes its counts with it.
    @Test func departedPeerLeavesCounts() {
        var state = ChokeState(choker: Choker(slots: 4))
        state.peerJoined(PeerKey(1), now: start)
        _ = state.interestChanged(PeerKey(1), interested: true, now: start)
        state.peerLeft(PeerKey(1))
        #expect(state.interestedCount == 0 && state.unchokedCount == 0)
        #expect(state.interestChanged(PeerKey(1), interested: true, now: start).isEmpty)
    }
}
