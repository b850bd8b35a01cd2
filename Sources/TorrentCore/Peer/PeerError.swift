/// Why a peer is dropped. Logged at debug level; never more than that peer's problem.
public enum PeerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The byte stream broke the framing rules.
    case wire(WireError)
    /// A bitfield of the wrong size or with spare bits set, or not right after the handshake.
    case badBitfield
    /// A request outside the torrent, over 128 KiB, or for a piece we do not have.
    case invalidRequest(BlockRequest)
    /// Far more requests than the advertised queue allows.
    case requestFlood(queued: Int)
    /// A message not allowed in this state (fast-extension messages without the extension, ...).
    case protocolViolation(String)
    /// Nothing received for longer than the idle timeout.
    case idle
    /// Both sides are seeds: nothing to exchange.
    case bothSeeds
    /// The peer sent pieces that failed their hash check.
    case badData
    /// Its handshake named a torrent we do not have (or not the one we asked for).
    case unknownTorrent(InfoHash)
    /// No complete handshake arrived in time.
    case handshakeTimeout
    /// The handshake carried our own peer id: we connected to ourselves.
    case connectedToSelf
    /// Already connected to a peer with this peer id.
    case duplicatePeer
    /// Its address is on the blocklist (a list set while it was connected).
    case blocklisted

    public var description: String {
        switch self {
        case .wire(let error): return error.description
        case .badBitfield: return "invalid bitfield"
        case .invalidRequest(let request): return "invalid request for \(request)"
        case .requestFlood(let queued): return "request flood (\(queued) over the queue limit)"
        case .protocolViolation(let what): return "protocol violation: \(what)"
        case .idle: return "idle timeout"
        case .bothSeeds: return "both sides are seeds"
        case .badData: return "sent data that failed the hash check"
        case .unknownTorrent(let infoHash): return "unknown info hash \(infoHash)"
        case .handshakeTimeout: return "no handshake in time"
        case .connectedToSelf: return "connected to ourselves"
        case .duplicatePeer: return "already connected to this peer"
        case .blocklisted: return "address on the blocklist"
        }
    }

    /// A short name for counting drops by reason (a metric label).
    public var label: String {
        switch self {
        case .wire: return "wire_error"
        case .badBitfield: return "bad_bitfield"
        case .invalidRequest: return "invalid_request"
        case .requestFlood: return "request_flood"
        case .protocolViolation: return "protocol_violation"
        case .idle: return "idle"
        case .bothSeeds: return "both_seeds"
        case .badData: return "bad_data"
        case .unknownTorrent: return "unknown_torrent"
        case .handshakeTimeout: return "handshake_timeout"
        case .connectedToSelf: return "self_connection"
        case .duplicatePeer: return "duplicate_peer"
        case .blocklisted: return "blocklist"
        }
    }
}
