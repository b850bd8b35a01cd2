import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent tracker`: the embedded tracker on its own loop, until SIGINT or SIGTERM.
public final class TrackerHost {
    private let loop: EventLoop
    private let tracker: EmbeddedTracker

    /// A tracker listening on `address`, for `allowed` torrents only (nil: any).
    public init(address: SocketAddress, allowed: Set<InfoHash>?, interval: Duration, log: Log) throws(SystemError) {
        loop = try EventLoop()
        tracker = try EmbeddedTracker(loop: loop, address: address, allowed: allowed, interval: interval, log: log)
    }

    /// The announce URL as others reach it at `host`.
    public func announceURL(host: String) -> String { tracker.announceURL(host: host) }

    /// Announces answered so far.
    public var announces: Int { tracker.announces }

    /// Serves until SIGINT or SIGTERM, then closes.
    public func runUntilSignal() {
        let stop = { [tracker, loop] in
            tracker.close()
            loop.stop()
        }
        loop.watchSignal(SIGINT, stop)
        loop.watchSignal(SIGTERM, stop)
        loop.run()
    }
}

@available(*, unavailable)
extension TrackerHost: Sendable {}
