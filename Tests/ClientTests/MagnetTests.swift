import Reactor
import ReactorTesting
import Testing
import TorrentCore

@testable import Client

/// A peer's extension handshake naming ut_metadata as `id`, with `size` if it has the metadata.
private func greeting(id: Int, size: Int?) -> [UInt8] {
    var handshake = ExtensionHandshake()
    handshake.messages = ["ut_metadata": id]
    handshake.metadataSize = size
    return PeerMessage.extended(id: 0, payload: handshake.payload()).encoded()
}

/// The extension handshake among `messages`, decoded.
private func extensionHandshake(in messages: [PeerMessage]) -> ExtensionHandshake? {
    for case .extended(0, let payload) in messages { return try? ExtensionHandshake(payload: payload) }
    return nil
}

/// BEP 9 on a Session on virtual time: a seed serves its info dictionary; a magnet's fetch gets
/// it from a peer that connected in or one it dialled, then the very same connection downloads.
@Suite struct MagnetTests {
    // A seed advertises metadata_size and ut_metadata, answers each request with its piece of the
    // info dictionary (sent with the peer's id), rejects one past the end, and drops a peer that
    // sends a malformed ut_metadata message.
    @Test func aSeedServesItsMetadata() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding()
        let peer = try #require(manual.incoming())
        peer.deliver(Handshake(infoHash: content.metainfo.infoHash, peerID: testPeerID(1)).encoded())
        let (_, opening) = readMessages(peer, pieceCount: content.pieceCount, handshake: true)
        let advertised = try #require(extensionHandshake(in: opening))
        let info = content.metainfo.infoBytes
        #expect(advertised.metadataSize == info.count)
        let ours = try #require(advertised.messages["ut_metadata"])
        peer.deliver(greeting(id: 9, size: nil))
        peer.deliver(PeerMessage.extended(id: UInt8(ours), payload: MetadataMessage.request(piece: 0).encoded()).encoded())
        peer.deliver(PeerMessage.extended(id: UInt8(ours), payload: MetadataMessage.request(piece: 5).encoded()).encoded())
        let answers = readMessages(peer, pieceCount: content.pieceCount).1
        #expect(answers == [
            .extended(id: 9, payload: MetadataMessage.data(piece: 0, totalSize: info.count, bytes: info[...]).encoded()),
            .extended(id: 9, payload: MetadataMessage.reject(piece: 5).encoded()),
        ])
        peer.deliver(PeerMessage.extended(id: UInt8(ours), payload: Array("d8:msg_typei7ee".utf8)).encoded())
        #expect(!peer.isOpen)
        #expect(manual.session.stats.peersDropped["protocol_violation"] == 1)
    }

    /// The fetch of `content`'s magnet in a fresh session, its result caught.
    private final class Fetching {
        let manual = ManualSession()
        let fetch: MetadataFetch
        var result: Result<(metainfo: Metainfo, file: [UInt8]), LoadError>?

        init(_ link: MagnetLink) {
            fetch = manual.session.fetchMetadata(link)
            fetch.finished = { [unowned self] in self.result = $0 }
        }
    }

    // A peer that connects in naming the magnet's hash is taken by the fetch: our handshake, our
    // extension handshake and HaveNone; its greeting starts the requests, its data completes the
    // metadata, which is hashed and parsed. The torrent added from it keeps the connection: the
    // HaveAll the peer sent during the fetch counts, so we are interested at once, and after its
    // Unchoke the block requests go out on the same connection.
    @Test func anIncomingPeerHandsTheMetadataAndTheConnectionOver() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let info = content.metainfo.infoBytes
        let fetching = Fetching(MagnetLink(infoHash: content.metainfo.infoHash))
        let session = fetching.manual.session
        let peer = try #require(fetching.manual.incoming())
        peer.deliver(Handshake(infoHash: content.metainfo.infoHash, peerID: testPeerID(2)).encoded())
        let (handshake, hello) = readMessages(peer, pieceCount: 0, handshake: true)
        #expect(handshake?.infoHash == content.metainfo.infoHash)
        #expect(hello.last == .haveNone)
        let ours = try #require(extensionHandshake(in: hello)?.messages["ut_metadata"])
        #expect(fetching.fetch.peerCount == 1)
        peer.deliver(greeting(id: 3, size: info.count) + PeerMessage.haveAll.encoded())
        #expect(readMessages(peer, pieceCount: 0).1 == [.extended(id: 3, payload: MetadataMessage.request(piece: 0).encoded())])
        peer.deliver(PeerMessage.extended(id: UInt8(ours), payload: MetadataMessage.answer(0, metadata: info).encoded()).encoded())
        fetching.manual.settle()
        let fetched = try #require(try fetching.result?.get())
        #expect(fetched.metainfo.infoHash == content.metainfo.infoHash && fetched.metainfo.infoBytes == info)

        let target = try TemporaryDirectory()
        defer { target.cleanup() }
        var options = TorrentOptions()
        options.download = DownloadOptions()
        let torrent = session.add(
            fetched.metainfo, location: ContentLocation(metainfo: fetched.metainfo, directory: target.path),
            have: Bitfield(count: content.pieceCount), options: options, handingOver: fetching.fetch)
        #expect(torrent.peerCount == 1 && session.connectionCount == 1 && peer.isOpen)
        let joined = readMessages(peer, pieceCount: content.pieceCount).1
        #expect(extensionHandshake(in: joined)?.metadataSize == info.count)
        #expect(joined.contains(.interested) && !joined.contains(.haveNone) && !joined.contains { if case .bitfield = $0 { true } else { false } })
        peer.deliver(PeerMessage.unchoke.encoded())
        let requests = readMessages(peer, pieceCount: content.pieceCount).1.filter { if case .request = $0 { true } else { false } }
        #expect(!requests.isEmpty)
    }

    // A fetch dials the magnet's x.pe peers; metadata that does not match the hash drops the
    // peer that sent it and nothing is finished; a peer that sends the right metadata finishes it.
    @Test func aDialledPeerThatLiesIsDroppedAndAnotherCompletesIt() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let info = content.metainfo.infoBytes
        let link = MagnetLink(infoHash: content.metainfo.infoHash, peers: ["10.0.0.5:7000", "10.0.0.6:7000"])
        let fetching = Fetching(link)
        let attempts = fetching.manual.connector.attempts
        #expect(attempts.map(\.remoteAddress.description).sorted() == ["10.0.0.5:7000", "10.0.0.6:7000"])
        for (index, connection) in attempts.enumerated() {
            connection.makeConnection()
            let (handshake, _) = readMessages(connection, pieceCount: 0, handshake: true)
            #expect(handshake?.infoHash == content.metainfo.infoHash)
            connection.deliver(Handshake(infoHash: content.metainfo.infoHash, peerID: testPeerID(UInt8(10 + index))).encoded())
            _ = connection.takeWritten()
        }
        let liar = attempts[0], honest = attempts[1]
        var forged = info
        forged[forged.count / 2] ^= 0xFF
        liar.deliver(greeting(id: 4, size: info.count))
        #expect(!readMessages(liar, pieceCount: 0).1.isEmpty)
        liar.deliver(PeerMessage.extended(id: 1, payload: MetadataMessage.answer(0, metadata: forged).encoded()).encoded())
        fetching.manual.settle()
        #expect(fetching.result == nil && !liar.isOpen)
        honest.deliver(greeting(id: 4, size: info.count))
        #expect(readMessages(honest, pieceCount: 0).1 == [.extended(id: 4, payload: MetadataMessage.request(piece: 0).encoded())])
        honest.deliver(PeerMessage.extended(id: 1, payload: MetadataMessage.answer(0, metadata: info).encoded()).encoded())
        fetching.manual.settle()
        #expect(try fetching.result?.get().metainfo.infoHash == content.metainfo.infoHash)
    }
}

/// A peer's extension handshake naming ut_pex as `id` and its listen port.
private func pexGreeting(id: Int, port: Int) -> [UInt8] {
    var handshake = ExtensionHandshake()
    handshake.messages = ["ut_pex": id]
    handshake.listenPort = port
    return PeerMessage.extended(id: 0, payload: handshake.payload()).encoded()
}

/// The ut_pex messages among `messages` (sent with `id`), decoded.
private func pexMessages(_ messages: [PeerMessage], id: UInt8) -> [PexMessage] {
    messages.compactMap { message in
        guard case .extended(id, let payload) = message else { return nil }
        return try? PexMessage(decoding: payload)
    }
}

/// Peer exchange (BEP 11) on a Session on virtual time.
@Suite struct PeerExchangeTests {
    // Two peers connect in and give their listen ports: at the next upkeep each hears of the
    // other (and not of itself), flagged as not dialled; nothing more for a minute. A PEX message
    // from one names a third peer, which is dialled; a second one 10 s later is ignored.
    @Test func tellsPeersOfEachOtherAndDialsWhatTheyName() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let manual = content.seeding()
        let a = try #require(manual.incoming(from: "10.0.0.1")), b = try #require(manual.incoming(from: "10.0.0.2"))
        for (peer, port) in [(a, 7001), (b, 7002)] {
            peer.deliver(Handshake(infoHash: content.metainfo.infoHash, peerID: testPeerID(UInt8(port % 256))).encoded())
            let hello = readMessages(peer, pieceCount: content.pieceCount, handshake: true).1
            #expect(extensionHandshake(in: hello)?.messages["ut_pex"] != nil)
            peer.deliver(pexGreeting(id: 4, port: port))
        }
        manual.loop.advance(by: .seconds(5))
        let toA = pexMessages(readMessages(a, pieceCount: content.pieceCount).1, id: 4)
        let toB = pexMessages(readMessages(b, pieceCount: content.pieceCount).1, id: 4)
        #expect(toA == [PexMessage(added: [.init(TrackerPeer(ip: [10, 0, 0, 2], port: 7002))])])
        #expect(toB == [PexMessage(added: [.init(TrackerPeer(ip: [10, 0, 0, 1], port: 7001))])])
        manual.loop.advance(by: .seconds(30))
        #expect(pexMessages(readMessages(a, pieceCount: content.pieceCount).1, id: 4).isEmpty)

        let ours = try #require(manual.session.torrent(for: content.metainfo.infoHash)).peerConfiguration.extensionNames
        let pexID = UInt8(ExtensionTable(speaking: ours).ours["ut_pex"]!)
        let named = PexMessage(added: [.init(TrackerPeer(ip: [10, 0, 0, 9], port: 9000), flags: .reachable)])
        a.deliver(PeerMessage.extended(id: pexID, payload: named.encoded()).encoded())
        #expect(manual.connector.attempts.map(\.remoteAddress.description) == ["10.0.0.9:9000"])
        manual.loop.advance(by: .seconds(10))
        let more = PexMessage(added: [.init(TrackerPeer(ip: [10, 0, 0, 10], port: 9000))])
        a.deliver(PeerMessage.extended(id: pexID, payload: more.encoded()).encoded())
        #expect(manual.connector.attempts.count == 1)
        #expect(manual.session.stats.pexPeersReceived == 1)
    }

    // A private torrent (BEP 27) offers no ut_pex and takes no peers from it.
    @Test func notForPrivateTorrents() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("secret.bin", patternBytes(40_000, seed: 3))
        var create = CreateOptions()
        create.pieceLength = 16_384
        create.isPrivate = true
        let bytes = try TorrentCreator.create(try ContentScan(path: directory.path + "/secret.bin"), options: create, threads: 1)
        let metainfo = try MetainfoLoader.parse(bytes, path: "secret")
        #expect(metainfo.info.isPrivate)
        let manual = ManualSession()
        manual.session.add(metainfo, location: ContentLocation(metainfo: metainfo, directory: directory.path),
                           have: Bitfield(count: metainfo.info.pieceCount, allSet: true), options: TorrentOptions())
        let peer = try #require(manual.incoming())
        peer.deliver(Handshake(infoHash: metainfo.infoHash, peerID: testPeerID(5)).encoded())
        let hello = readMessages(peer, pieceCount: metainfo.info.pieceCount, handshake: true).1
        let offered = try #require(extensionHandshake(in: hello)).messages
        #expect(offered["ut_pex"] == nil && offered["ut_metadata"] != nil)
        let named = PexMessage(added: [.init(TrackerPeer(ip: [10, 0, 0, 9], port: 9000))])
        peer.deliver(PeerMessage.extended(id: 2, payload: named.encoded()).encoded())
        #expect(manual.connector.attempts.isEmpty)
    }
}
