/// A session's counters, kept as things happen (never recounted by walking peers or torrents),
/// so a status line or a metrics endpoint reads them for free. Totals since the session started.
public struct SessionStats: Sendable, Equatable {
    /// Payload bytes sent to peers.
    public internal(set) var uploadedBytes: Int64 = 0
    /// Payload bytes accepted into pieces, less those of pieces that failed.
    public internal(set) var downloadedBytes: Int64 = 0
    /// Incoming connections accepted (before their handshake).
    public internal(set) var connectionsAccepted = 0
    /// Incoming connections refused because their address had its share of connections already.
    public internal(set) var refusedPerAddress = 0
    /// Connections refused, in or out, because the address is on the blocklist.
    public internal(set) var refusedBlocklisted = 0
    /// Outgoing connection attempts.
    public internal(set) var dialAttempts = 0
    /// Outgoing attempts that failed before a handshake (refused, timed out, unreachable).
    public internal(set) var dialFailures = 0
    /// Peers dropped, by `PeerError.label` (bad data, request flood, idle, both seeds, ...).
    public internal(set) var peersDropped: [String: Int] = [:]
    /// Pieces that failed their hash check.
    public internal(set) var hashFailures = 0
    /// Bytes on the peer wire, payload and protocol (handshakes, messages, piece headers).
    public internal(set) var wireUploadedBytes: Int64 = 0
    public internal(set) var wireDownloadedBytes: Int64 = 0
    /// Encrypted dials the peer did not take, retried in plaintext.
    public internal(set) var encryptionFallbacks = 0
    /// Peers whose connection is encrypted (MSE/PE, RC4), so far.
    public internal(set) var encryptedPeers = 0
    /// Peer addresses learned by peer exchange (BEP 11).
    public internal(set) var pexPeersReceived = 0

    /// All zero.
    public init() {}

    /// Peers dropped, whatever the reason.
    public var peersDroppedTotal: Int { peersDropped.values.reduce(0, +) }
}
