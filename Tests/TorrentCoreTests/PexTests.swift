import Testing

@testable import TorrentCore

/// Calls `body` (lets #expect look at a mutating call's result).
private func run<T>(_ body: () -> T) -> T { body() }

private func v4(_ last: UInt8, _ port: UInt16 = 6881) -> TrackerPeer { TrackerPeer(ip: [10, 0, 0, last], port: port) }
private func v6(_ last: UInt8, _ port: UInt16 = 6881) -> TrackerPeer { TrackerPeer(ip: [UInt8](repeating: 0, count: 15) + [last], port: port) }
private func payload(_ members: [(String, BencodeValue)]) -> [UInt8] { Bencode.encode(.dictionary(BencodeDictionary(members))) }

@Suite struct PexMessageTests {
    // Compact v4 and v6 entries with their flags survive a round trip (v4 first, as encoded); flags missing for an entry
    // read as none.
    @Test func roundTripsCompactV4AndV6WithFlags() throws {
        let message = PexMessage(
            added: [.init(v4(1), flags: [.seed, .reachable]), .init(v4(3)), .init(v6(2), flags: .encryption)],
            dropped: [v4(9), v6(8)])
        #expect(try PexMessage(decoding: message.encoded()) == message)
        let shortFlags = payload([("added", .bytes(v4(1).compact + v4(2).compact)), ("added.f", .bytes([0x02]))])
        #expect(try PexMessage(decoding: shortFlags).added == [.init(v4(1), flags: .seed), .init(v4(2))])
    }

    // Truncated entries are ignored, a list longer than the cap is cut, port 0 and duplicates
    // are left out, and a peer both added and dropped is believed neither way.
    @Test func neverTrustsTheLists() throws {
        let truncated = payload([("added", .bytes(v4(1).compact + [10, 0, 0])), ("dropped6", .bytes(Array(v6(1).compact.prefix(17))))])
        #expect(try PexMessage(decoding: truncated) == PexMessage(added: [.init(v4(1))]))
        let many = (0..<1000).flatMap { TrackerPeer(ip: [10, 1, UInt8($0 / 256), UInt8($0 % 256)], port: 1).compact }
        #expect(try PexMessage(decoding: payload([("added", .bytes(many))])).added.count == PexMessage.maxEntries)
        let odd = payload([("added", .bytes(v4(1, 0).compact + v4(2).compact + v4(2).compact)), ("dropped", .bytes(v4(2).compact + v4(3).compact))])
        #expect(try PexMessage(decoding: odd) == PexMessage(added: [], dropped: [v4(3)]))
    }

    // Not a dictionary, not bencode, or lists of the wrong type: refused or read as empty.
    @Test func refusesGarbage() throws {
        #expect(throws: PexMessage.Failure.self) { try PexMessage(decoding: Array("garbage".utf8)) }
        #expect(throws: PexMessage.Failure.self) { try PexMessage(decoding: Array("li1ee".utf8)) }
        #expect(try PexMessage(decoding: payload([("added", .integer(5))])) == PexMessage())
    }
}

@Suite struct PexStateTests {
    let start = ContinuousClock.now

    // The first message names up to 100 peers; the next waits a minute and carries only the
    // changes, at most 50 each way, never the same peer twice; nothing changed means nothing sent.
    @Test func sendsChangesAMinuteApart() {
        var state = PexState()
        let first = (0..<120).map { PexMessage.Entry(TrackerPeer(ip: [10, 2, 0, UInt8($0)], port: 1)) }
        let opening = run { state.message(current: first + [first[0]], now: start) }
        #expect(opening?.added.count == PexState.maxFirst && opening?.dropped.isEmpty == true)
        #expect(run { state.message(current: first, now: start + .seconds(59)) } == nil)
        let later = run { state.message(current: Array(first.dropFirst(60)), now: start + .seconds(60)) }
        #expect(later?.added.count == 20)
        #expect(later?.dropped.count == PexState.maxPerMessage)
        #expect(Set(later!.added.map(\.peer)).isDisjoint(with: later!.dropped))
        let next = run { state.message(current: Array(first.dropFirst(60)), now: start + .seconds(120)) }
        #expect(next?.added.isEmpty == true && next?.dropped.count == 10)
        #expect(run { state.message(current: Array(first.dropFirst(60)), now: start + .seconds(180)) } == nil)
    }

    // An empty first list sends nothing (peers that send empty PEX break the spec).
    @Test func neverSendsAnEmptyMessage() {
        var state = PexState()
        #expect(run { state.message(current: [], now: start) } == nil)
        #expect(state.isDue(now: start))
    }

    // Messages from a peer closer together than 45 s are ignored.
    @Test func ignoresAFlood() {
        var state = PexState()
        #expect(run { state.accept(now: start) })
        #expect(!run { state.accept(now: start + .seconds(10)) })
        #expect(run { state.accept(now: start + .seconds(46)) })
    }
}
