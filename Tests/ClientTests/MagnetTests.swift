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
