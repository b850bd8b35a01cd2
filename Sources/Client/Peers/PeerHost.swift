import Reactor
import TorrentCore

/// What a peer connection needs from the session that accepted or opened it, and nothing more:
/// time, identity, limits, the torrent a handshake names, and where to report what happened.
/// `Session` is the one host; the narrow view keeps a connection from reaching into the rest.
protocol PeerHost: AnyObject {
    /// Time and timers.
    var loop: any Scheduler { get }
    /// The loop's time (without handing out the loop: a retain and release per message).
    var now: ContinuousClock.Instant { get }
    /// Where peer events are logged.
    var log: Log { get }
    /// Our BEP 20 peer id.
    var peerID: [UInt8] { get }
    /// Limits and timeouts.
    var options: SessionOptions { get }
    /// Handlers for BEP 10 extension messages, by name.
    var extensionHandlers: [String: (Torrent, PeerConnection, [UInt8]) -> Void] { get }
    /// The torrent a handshake names, if the session has it.
    func torrent(for infoHash: InfoHash) -> Torrent?
    /// An incoming connection names a magnet being fetched: hand it over (false if none is).
    func adoptForMetadata(_ peer: PeerConnection, _ connection: any Connection, handshake: Handshake, rest: ByteQueue) -> Bool
    /// The receiver's side of an MSE handshake for an incoming connection.
    func encryptionReceiver() -> MSEHandshake
    /// The initiator's side of an MSE handshake for a connection we open.
    func encryptionInitiator(for infoHash: InfoHash, handshake: [UInt8]) -> MSEHandshake
    /// A connection's stream became encrypted.
    func peerEncrypted()
    /// Logs a limit being hit, at most once every 10 s.
    func logLimit(_ message: String)
    /// A peer was dropped for `error`.
    func peerDropped(_ error: PeerError)
    /// An outgoing connection finished its handshake.
    func outgoingJoined(_ peer: PeerConnection)
    /// The connection closed.
    func connectionClosed(_ peer: PeerConnection, reason: CloseReason)
    /// Bytes went over the peer wire (payload and protocol).
    func countWire(uploaded: Int, downloaded: Int)
}

extension Session: PeerHost {}
