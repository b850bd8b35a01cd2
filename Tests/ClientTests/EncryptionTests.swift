import Reactor
import ReactorTesting
import Testing
import TorrentCore

@testable import Client

/// MSE/PE on a Session on virtual time, against a peer played by the test with TorrentCore's
/// own handshake and real keys.
@Suite struct EncryptionTests {
    // A peer that dials a `required` seed with MSE: the seed finds the torrent by its req2
    // index, answers, takes the BitTorrent handshake from the initial payload, and from then on
    // everything both ways is RC4: HaveAll, Unchoke and a block deciphered by the test match.
    @Test func servesAnEncryptedPeer() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding { $0.encryption = .required }
        let connection = try #require(manual.incoming())
        var peer = MSEHandshake(
            initiatorFor: content.metainfo.infoHash, provide: .rc4, initialPayload: content.handshake(7, fast: true), crypto: .fresh())
        connection.deliver(peer.opening())
        var result: MSEHandshake.Result?
        for _ in 0..<4 where result == nil {
            var answer: [UInt8] = []
            if case .done(let done) = peer.received(connection.takeWritten(), send: { answer += $0 }) { result = done }
            if !answer.isEmpty { connection.deliver(answer) }
        }
        var keys = try #require(result, "the MSE handshake did not finish")
        #expect(keys.method == .rc4)
        var inbound = keys.rest + connection.takeWritten()
        keys.decryptor.apply(&inbound)
        var queue = ByteQueue(inbound)
        let handshake = try #require(try Handshake.decode(from: &queue))
        #expect(handshake.infoHash == content.metainfo.infoHash)
        let decoder = PeerMessageDecoder(pieceCount: content.pieceCount)
        #expect(try decoder.next(from: &queue) == .haveAll)
        connection.deliver(keys.encryptor.applied(PeerMessage.interested.encoded() + PeerMessage.request(content.block(3)).encoded()))
        var served = ByteQueue(keys.decryptor.applied(connection.takeWritten()))
        #expect(try decoder.next(from: &served) == .unchoke)
        #expect(try decoder.next(from: &served) == .piece(content.block(3), content.stream[3 * 16_384..<4 * 16_384]))
        #expect(manual.session.stats.encryptedPeers == 1)
    }

    // A `required` session drops a peer that opens in plaintext; a `preferred` one dials with
    // MSE and, when the peer hangs up on it, dials again in plaintext at once.
    @Test func requiredRefusesPlaintextAndPreferredFallsBack() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let strict = content.seeding { $0.encryption = .required }
        let plain = try #require(strict.incoming())
        plain.deliver(content.handshake(1))
        #expect(!plain.isOpen)
        #expect(strict.session.stats.peersDropped["protocol_violation"] == 1)

        let manual = ManualSession(offloader: nil) { (options: inout SessionOptions) in options.encryption = .preferred }
        var options = TorrentOptions()
        options.peers = [SocketAddress(host: "10.0.0.7", port: 7000)!]
        manual.session.add(content.metainfo, location: ContentLocation(metainfo: content.metainfo, directory: content.directory.path),
                           have: Bitfield(count: content.pieceCount, allSet: true), options: options)
        manual.loop.runPending()
        let first = try #require(manual.connector.attempts.first)
        first.makeConnection()
        #expect(first.takeWritten().count >= 96)  // Ya and PadA, not a BitTorrent handshake
        first.peerClose()
        #expect(manual.connector.attempts.count == 2 && manual.session.stats.encryptionFallbacks == 1)
        let second = manual.connector.attempts[1]
        second.makeConnection()
        #expect(readMessages(second, pieceCount: content.pieceCount, handshake: true).0?.infoHash == content.metainfo.infoHash)
    }

    // An MSE opening whose first byte happens to be 19 (once in 256) is MSE, not a plaintext
    // handshake: the seed answers it. A plaintext handshake arriving a few bytes at a time is
    // told apart only once its protocol string is whole.
    @Test func openingsAreToldApartByTheWholeProtocolString() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding { $0.encryption = .required }
        var peer: MSEHandshake
        var opening: [UInt8]
        repeat {
            peer = MSEHandshake(
                initiatorFor: content.metainfo.infoHash, provide: .rc4, initialPayload: content.handshake(7, fast: true), crypto: .fresh())
            opening = peer.opening()
        } while opening[0] != 19
        let connection = try #require(manual.incoming())
        connection.deliver(opening)
        var result: MSEHandshake.Result?
        for _ in 0..<4 where result == nil {
            var answer: [UInt8] = []
            if case .done(let done) = peer.received(connection.takeWritten(), send: { answer += $0 }) { result = done }
            if !answer.isEmpty { connection.deliver(answer) }
        }
        #expect(result != nil, "the seed refused an MSE opening that starts with 19")
        #expect(connection.isOpen)

        let tolerant = content.seeding { $0.encryption = .tolerated }
        let plain = try #require(tolerant.incoming())
        let handshake = content.handshake(2)
        plain.deliver(Array(handshake[..<5]))
        #expect(plain.isOpen && plain.takeWritten().isEmpty)
        plain.deliver(Array(handshake[5...]))
        #expect(readMessages(plain, pieceCount: content.pieceCount, handshake: true).0?.infoHash == content.metainfo.infoHash)
    }
}
