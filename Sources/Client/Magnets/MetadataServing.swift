import TorrentCore

extension Session {
    /// A ut_metadata message (BEP 9) from a peer of a torrent we have: requests get the piece of
    /// the info dictionary, or a reject past its end; answers and rejects are of no use to a
    /// torrent that has its metadata and are ignored. A malformed message or a flood of requests
    /// drops the peer.
    func serveMetadata(_ torrent: Torrent, _ peer: PeerConnection, _ payload: [UInt8]) {
        let message: MetadataMessage
        do { message = try MetadataMessage(decoding: payload) } catch {
            return peer.drop(.protocolViolation("malformed ut_metadata message: \(error)"))
        }
        guard case .request(let piece) = message else { return }
        peer.metadataRequests += 1
        guard peer.metadataRequests <= MetadataExchange.maxRequestsServed else {
            return peer.drop(.protocolViolation("asked for metadata \(MetadataExchange.maxRequestsServed) times"))
        }
        peer.sendExtension("ut_metadata", payload: MetadataMessage.answer(piece, metadata: torrent.metainfo.infoBytes).encoded())
    }
}
