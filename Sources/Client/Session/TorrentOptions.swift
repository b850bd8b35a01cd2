import Reactor
import TorrentCore

/// How a session runs one torrent. Names follow Transmission's RPC where the concept is the same
/// (`seedRatioLimit`, `seedIdleLimit`).
public struct TorrentOptions: Equatable, Sendable {
    /// Fetch the missing wanted pieces; nil seeds only what is had.
    public var download: DownloadOptions?
    /// Trackers to announce to, by tier (BEP 12); the session's own embedded tracker is added
    /// when it runs one.
    public var trackerTiers: [[String]] = []
    /// Peers given by hand, dialled at once and again while downloading.
    public var peers: [SocketAddress] = []
    /// Stop once uploaded / size reaches this ratio (after the download completes).
    public var seedRatioLimit: Double?
    /// Stop after seeding this long (counted from completion, or from the start for a seed).
    public var seedTimeLimit: Duration?
    /// Stop after this long without uploading anything while complete.
    public var seedIdleLimit: Duration?
    /// This torrent's own caps in bytes per second (nil: none; the session's apply too).
    public var uploadLimit: Int?
    public var downloadLimit: Int?
    /// Peers at most for this torrent (nil: the session's per-torrent limit).
    public var maxPeers: Int?

    /// A seed-only torrent with no trackers, no limits.
    public init() {}
}

/// Why a torrent stopped by itself.
public enum StopReason: Equatable, Sendable, CustomStringConvertible {
    /// `seedRatioLimit` reached.
    case ratioReached
    /// `seedTimeLimit` reached.
    case seedTimeReached
    /// `seedIdleLimit` reached.
    case idleReached
    /// Asked to (`Session.stop`).
    case requested

    public var description: String {
        switch self {
        case .ratioReached: return "seed ratio reached"
        case .seedTimeReached: return "seed time reached"
        case .idleReached: return "idle seeding limit reached"
        case .requested: return "stopped"
        }
    }
}

/// Where a torrent is in its life.
public enum TorrentPhase: Equatable, Sendable {
    /// Hash-checking its data; no peers meanwhile.
    case checking(piecesDone: Int, of: Int)
    /// Serving and, while pieces are missing, downloading.
    case running
    /// Stopped: no peers, no announces.
    case stopped(StopReason)

    /// Whether it is stopped, for whatever reason.
    public var isStopped: Bool {
        if case .stopped = self { return true }
        return false
    }
}
