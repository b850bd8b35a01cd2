import Reactor
import Testing

@testable import TorrentCore

private func sha1(_ bytes: [UInt8]) -> [UInt8] { Digest.sha1(bytes[...]) }

/// Fixed keys: each side's "public key" is 96 bytes of one value, and the shared secret any
/// function both sides compute alike (the machine is tested here, the arithmetic elsewhere).
private func crypto(_ fill: UInt8, pad: Int, padByte: UInt8 = 0xEE) -> MSEHandshake.Crypto {
    let ours = [UInt8](repeating: fill, count: 96)
    return MSEHandshake.Crypto(
        publicKey: ours,
        secret: { peer in
            guard peer.count == 96, peer != ours else { return nil }
            let pair = [ours, peer].sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 }
            return (0..<5).flatMap { sha1([UInt8($0)] + pair) }.prefix(96).map { $0 }
        },
        sha1: sha1, pad: { _ in [UInt8](repeating: padByte, count: pad) })
}

private let torrent = InfoHash(bytes: (0..<20).map { UInt8($0 * 7) })!
private let other = InfoHash(bytes: [UInt8](repeating: 3, count: 20))!
private let handshake = Handshake(infoHash: torrent, peerID: [UInt8](repeating: 0x41, count: 20)).encoded()

private func index(_ hashes: [InfoHash]) -> @Sendable ([UInt8]) -> InfoHash? {
    let table = Dictionary(uniqueKeysWithValues: hashes.map { (MSEHandshake.req2($0, sha1: sha1), $0) })
    return { table[$0] }
}

/// Both sides run against each other, bytes delivered `chunk` at a time (1: split at every byte).
private func exchange(
    initiator: inout MSEHandshake, receiver: inout MSEHandshake, chunk: Int = .max, extraAfter: [UInt8] = []
) -> (MSEHandshake.Outcome, MSEHandshake.Outcome) {
    var toReceiver = initiator.opening()
    var toInitiator: [UInt8] = []
    var a = MSEHandshake.Outcome.pending, b = MSEHandshake.Outcome.pending
    var rounds = 0
    func feed(_ bytes: inout [UInt8], into side: inout MSEHandshake, outcome: inout MSEHandshake.Outcome, replies: inout [UInt8]) {
        while !bytes.isEmpty, case .pending = outcome {
            let piece = Array(bytes.prefix(chunk))
            bytes.removeFirst(piece.count)
            outcome = side.received(piece) { replies += $0 }
        }
    }
    while rounds < 20 {
        rounds += 1
        feed(&toReceiver, into: &receiver, outcome: &b, replies: &toInitiator)
        if case .done = b, !extraAfter.isEmpty, rounds == 1 { toInitiator += extraAfter }
        feed(&toInitiator, into: &initiator, outcome: &a, replies: &toReceiver)
        if case .pending = a { continue }
        if case .pending = b { continue }
        break
    }
    return (a, b)
}

@Suite struct MSEHandshakeTests {
    // RC4 against the published test vectors (no discard), and MSE's discard of 1024 bytes.
    @Test func rc4Vectors() {
        var a = RC4(key: Array("Key".utf8), discard: 0)
        #expect(a.applied(Array("Plaintext".utf8)) == [0xBB, 0xF3, 0x16, 0xE8, 0xD9, 0x40, 0xAF, 0x0A, 0xD3])
        var b = RC4(key: Array("Secret".utf8), discard: 0)
        #expect(b.applied(Array("Attack at dawn".utf8)) == [0x45, 0xA0, 0x1F, 0x64, 0x5F, 0xC3, 0x5B, 0x38, 0x35, 0x52, 0x54, 0x4B, 0x9B, 0xF5])
        var full = RC4(key: [1, 2, 3], discard: 0)
        var skipped = RC4(key: [1, 2, 3])
        #expect(Array(full.keystream(1040).suffix(16)) == skipped.keystream(16))
    }

    // The cipher works eight bytes at a time with a byte-wise tail: whatever the lengths it is
    // called with, it gives the keystream of the textbook byte-at-a-time RC4 written out here.
    @Test func rc4MatchesTheTextbookAtAnySplit() {
        func textbook(key: [UInt8], count: Int) -> [UInt8] {
            var s = (0...255).map { UInt8($0) }
            var j = 0
            for i in 0..<256 {
                j = (j + Int(s[i]) + Int(key[i % key.count])) & 255
                s.swapAt(i, j)
            }
            var i = 0
            j = 0
            return (0..<count).map { _ in
                i = (i + 1) & 255
                j = (j + Int(s[i])) & 255
                s.swapAt(i, j)
                return s[(Int(s[i]) + Int(s[j])) & 255]
            }
        }
        let key: [UInt8] = (0..<20).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let expected = textbook(key: key, count: 1024 + 600)
        for chunk in [1, 3, 7, 8, 9, 15, 16, 17, 64, 599, 600] {
            var cipher = RC4(key: key)
            var produced: [UInt8] = []
            var lengths = [chunk]
            while produced.count < 600 {
                let length = min(lengths.removeFirst(), 600 - produced.count)
                produced += cipher.keystream(length)
                lengths.append(length == 1 ? chunk : length - 1)
            }
            #expect(produced == Array(expected.suffix(600)), "in pieces of \(chunk) down")
        }
    }

    // Both roles agree: the receiver finds the torrent among several and gets the initial
    // payload; RC4 is chosen when both offer it; the ciphers then carry data both ways; what came
    // after the handshake is handed back as it came.
    @Test func bothRolesAgree() throws {
        var initiator = MSEHandshake(initiatorFor: torrent, provide: [.rc4, .plaintext], initialPayload: handshake, crypto: crypto(0xA1, pad: 17))
        var receiver = MSEHandshake(receiverAccepting: [.rc4, .plaintext], lookup: index([other, torrent]), crypto: crypto(0xB2, pad: 300))
        let (a, b) = exchange(initiator: &initiator, receiver: &receiver)
        guard case .done(var ours) = a, case .done(var theirs) = b else {
            Issue.record("not done: \(a) \(b)")
            return
        }
        #expect(theirs.infoHash == torrent && theirs.initialPayload == handshake)
        #expect(ours.method == .rc4 && theirs.method == .rc4)
        let message = Array("piece data".utf8)
        #expect(theirs.decryptor.applied(ours.encryptor.applied(message)) == message)
        #expect(ours.decryptor.applied(theirs.encryptor.applied(message)) == message)
        #expect(ours.rest.isEmpty && theirs.rest.isEmpty)
    }

    // Every byte boundary (bytes delivered one at a time), and every pad length from 0 to 512
    // on either side.
    @Test func anySplitAndAnyPadding() {
        var initiator = MSEHandshake(initiatorFor: torrent, provide: .rc4, initialPayload: handshake, crypto: crypto(1, pad: 512))
        var receiver = MSEHandshake(receiverAccepting: .rc4, lookup: index([torrent]), crypto: crypto(2, pad: 512))
        let (a, b) = exchange(initiator: &initiator, receiver: &receiver, chunk: 1)
        guard case .done = a, case .done = b else { return #expect(Bool(false), "byte by byte: \(a) \(b)") }
        for pad in 0...512 {
            for (padA, padB) in [(pad, 0), (0, pad)] {
                var initiator = MSEHandshake(initiatorFor: torrent, provide: .rc4, initialPayload: handshake, crypto: crypto(1, pad: padA))
                var receiver = MSEHandshake(receiverAccepting: .rc4, lookup: index([torrent]), crypto: crypto(2, pad: padB, padByte: UInt8(pad % 256)))
                let (a, b) = exchange(initiator: &initiator, receiver: &receiver, chunk: 97)
                guard case .done = a, case .done = b else { return #expect(Bool(false), "pads \(padA)/\(padB): \(a) \(b)") }
            }
        }
    }

    // A plaintext-only initiator gets plaintext from a receiver that takes both; one that
    // requires RC4 fails against a receiver that takes plaintext only.
    @Test func choosesWhatBothTake() {
        var initiator = MSEHandshake(initiatorFor: torrent, provide: .plaintext, initialPayload: [], crypto: crypto(1, pad: 0))
        var receiver = MSEHandshake(receiverAccepting: [.rc4, .plaintext], lookup: index([torrent]), crypto: crypto(2, pad: 0))
        guard case (.done(let ours), .done(let theirs)) = exchange(initiator: &initiator, receiver: &receiver) else {
            return #expect(Bool(false))
        }
        #expect(ours.method == .plaintext && theirs.method == .plaintext)
        // A receiver that prefers plaintext (tolerated) takes it when both are offered.
        var both = MSEHandshake(initiatorFor: torrent, provide: [.rc4, .plaintext], initialPayload: [], crypto: crypto(1, pad: 0))
        var tolerant = MSEHandshake(receiverAccepting: [.rc4, .plaintext], prefer: .plaintext, lookup: index([torrent]), crypto: crypto(2, pad: 0))
        guard case (.done(let mine), .done) = exchange(initiator: &both, receiver: &tolerant) else { return #expect(Bool(false)) }
        #expect(mine.method == .plaintext)
        var strict = MSEHandshake(initiatorFor: torrent, provide: .rc4, initialPayload: [], crypto: crypto(1, pad: 0))
        var plain = MSEHandshake(receiverAccepting: .plaintext, lookup: index([torrent]), crypto: crypto(2, pad: 0))
        guard case .failed(let reason) = exchange(initiator: &strict, receiver: &plain).1 else { return #expect(Bool(false)) }
        #expect(reason.contains("offered crypto"))
    }

    // Hostile input fails the handshake with a reason: padding over 512 bytes, an unknown
    // torrent, a wrong verification constant, a crypto_select we did not offer.
    @Test func refusesHostileInput() {
        var receiver = MSEHandshake(receiverAccepting: .rc4, lookup: index([torrent]), crypto: crypto(2, pad: 0))
        let longPad = [UInt8](repeating: 0xA1, count: 96) + [UInt8](repeating: 9, count: 600)
        guard case .failed(let reason) = receiver.received(longPad, send: { _ in }) else { return #expect(Bool(false)) }
        #expect(reason.contains("no req1"))

        var initiator = MSEHandshake(initiatorFor: other, provide: .rc4, initialPayload: [], crypto: crypto(1, pad: 0))
        var unknown = MSEHandshake(receiverAccepting: .rc4, lookup: index([torrent]), crypto: crypto(2, pad: 0))
        guard case .failed(let why) = exchange(initiator: &initiator, receiver: &unknown).1 else { return #expect(Bool(false)) }
        #expect(why.contains("torrent we do not have"))

        // The initiator's third message with its ciphered part garbled: VC no longer zero.
        var honest = MSEHandshake(initiatorFor: torrent, provide: .rc4, initialPayload: [], crypto: crypto(1, pad: 0))
        var checker = MSEHandshake(receiverAccepting: .rc4, lookup: index([torrent]), crypto: crypto(2, pad: 0))
        var replies: [UInt8] = []
        _ = checker.received(honest.opening()) { replies += $0 }
        var third: [UInt8] = []
        _ = honest.received(replies) { third += $0 }
        third[40] ^= 0xFF
        guard case .failed(let vc) = checker.received(third, send: { _ in }) else { return #expect(Bool(false)) }
        #expect(vc.contains("verification constant"))

        // A receiver that selects what we did not offer (a forged answer ciphered right).
        var asker = MSEHandshake(initiatorFor: torrent, provide: .rc4, initialPayload: [], crypto: crypto(1, pad: 0))
        var liar = MSEHandshake(receiverAccepting: [.plaintext, .rc4], lookup: index([torrent]), crypto: crypto(2, pad: 0))
        var toLiar = asker.opening()
        var toAsker: [UInt8] = []
        _ = liar.received(toLiar) { toAsker += $0 }
        toLiar = []
        _ = asker.received(toAsker) { toLiar += $0 }
        guard case .done = liar.received(toLiar, send: { _ in }) else { return #expect(Bool(false), "the receiver did not finish") }
        // Instead of the liar's answer, one ciphered right but with crypto_select 1 (plaintext),
        // which the asker did not offer.
        var keystream = RC4(key: sha1(Array("keyB".utf8) + forgedSecret(1, 2) + torrent.bytes))
        var lie = [UInt8](repeating: 0, count: 8) + [0, 0, 0, 1] + [0, 0]
        keystream.apply(&lie)
        guard case .failed(let select) = asker.received(lie, send: { _ in }) else { return #expect(Bool(false)) }
        #expect(select.contains("crypto_select"))
    }
}

/// The shared secret `crypto` computes for the pair of fills.
private func forgedSecret(_ a: UInt8, _ b: UInt8) -> [UInt8] {
    crypto(a, pad: 0).secret([UInt8](repeating: b, count: 96))!
}
