/// What a session asks its connection to do.
public enum PeerAction: Equatable, Sendable {
    /// Send a message.
    case send(PeerMessage)
    /// Close the connection for this reason.
    case close(PeerError)
    /// The peer announced one more piece: count it in the swarm's availability.
    case countPiece(PieceIndex)
    /// The peer announced these pieces (bitfield, HaveAll, or a later bitfield's new bits).
    case countPieces(Bitfield)
    /// A block arrived: hand it to the torrent (which may still find it unwanted).
    case storeBlock(BlockRequest, ArraySlice<UInt8>)
    /// These requests will not be answered (choke, reject, snub): give them back to the picker.
    case releaseRequests([BlockRequest])
    /// A BEP 10 message for the extension `name` arrived (one we offered in our handshake).
    case extensionMessage(String, [UInt8])
}
