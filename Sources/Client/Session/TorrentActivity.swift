import Reactor
import TorrentCore

/// What a torrent keeps only while something happens to it: its peers, the dials under way, the
/// choker's state, its rates. Made when the first peer or dial comes and dropped when the last
/// goes (`Torrent.releaseActivityIfIdle`): a daemon's ten thousand idle torrents keep a pointer
/// each, not these 120 bytes.
final class TorrentActivity {
    var peers: [PeerKey: PeerConnection] = [:]
    /// The peers' ids, to refuse a second connection from the same peer without a scan of all
    /// (18,000 handshakes against one torrent scanned 18,000 peers each: seconds of a stalled loop).
    var peerIDs: [[UInt8]: PeerKey] = [:]
    /// Addresses of dialled peers a check closed, to dial again when it ends.
    var redialAfterCheck: [SocketAddress] = []
    /// Outgoing connections not yet past their handshake.
    var pendingDials = 0
    /// Whom to serve, made when the first peer joins.
    var choke: ChokeState?
    /// The configuration the peer sessions share (see `Torrent.sharedPeerConfiguration`).
    var peerConfiguration: PeerSessionConfiguration.Shared?
    /// Each peer's share of the torrent's rate caps, as last applied (nil: none).
    var rateShare: RateLimit?
    /// Payload bytes per second, up and down, smoothed over the last seconds.
    var uploadRate = 0
    var downloadRate = 0
    /// The totals at the last rate sample.
    var lastRateSample: (up: Int64, down: Int64)

    /// Activity starting now, the torrent's totals being `up` and `down` (the first rate sample
    /// counts from them).
    init(up: Int64, down: Int64) { lastRateSample = (up, down) }

    /// Whether nothing is left in it: no peers, no dials, no addresses waiting for a check.
    var isIdle: Bool { peers.isEmpty && pendingDials == 0 && redialAfterCheck.isEmpty && uploadRate == 0 && downloadRate == 0 }
}

/// What only the one-torrent commands set: a daemon's torrents keep a nil pointer for them.
final class TorrentCallbacks {
    var downloadFinished: (() -> Void)?
    var stopped: ((StopReason) -> Void)?
}
