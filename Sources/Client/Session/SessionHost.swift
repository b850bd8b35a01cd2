import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// A session on its own loop in this process: what a command (or the daemon) runs. It raises
/// the process limits, owns the loop, listens, turns SIGINT and SIGTERM into one stop callback,
/// and runs until `stop()`.
public final class SessionHost {
    /// The engine.
    public let session: Session
    private let loop: EventLoop

    /// Why a session could not start.
    public enum StartError: Error, CustomStringConvertible {
        /// The event loop could not be made.
        case loop(SystemError)
        /// The peer port could not be bound.
        case listen(SystemError)

        public var description: String {
            switch self {
            case .loop(let error): return "cannot start the event loop: \(error)"
            case .listen(let error): return "cannot listen for peers: \(error) (choose another --port)"
            }
        }
    }

    /// Raises the open-file limit as far as allowed and tunes the allocator for many peers;
    /// returns the descriptors available (connections need one each).
    public static func prepareProcess() -> Int {
        let capacity = ResourceLimits.raiseOpenFileLimit()
        ResourceLimits.tuneAllocator()
        return capacity
    }

    /// How many peers `capacity` descriptors leave room for after `openFiles` data files, one HTTP
    /// server at its connection cap (the embedded tracker, or the daemon's RPC) and a margin:
    /// 19,168 under a limit of 20,000 with the default 512 files.
    public static func peerRoom(capacity: Int, openFiles: Int) -> Int {
        max(16, capacity - openFiles - HTTPServerLimits().maxConnections - 64)
    }

    /// A session listening as `options` say.
    public init(options: SessionOptions, log: Log) throws(StartError) {
        do { loop = try EventLoop() } catch { throw .loop(error) }
        do { session = try Session(loop: loop, options: options, log: log) } catch { throw .listen(error) }
    }

    /// The loop's clock.
    public var now: ContinuousClock.Instant { loop.now }

    /// Runs `body` every `interval` on the loop.
    public func every(_ interval: Duration, _ body: @escaping () -> Void) { loop.scheduleRepeating(every: interval, body) }

    /// Runs `body` once on the loop's next turn.
    public func soon(_ body: @escaping () -> Void) { loop.schedule(after: .zero, body) }

    /// Calls `handler` on the loop when SIGINT or SIGTERM arrives (instead of dying).
    public func onStopSignal(_ handler: @escaping () -> Void) {
        loop.watchSignal(SIGINT, handler)
        loop.watchSignal(SIGTERM, handler)
    }

    /// Runs the loop until `stop()`.
    public func run() { loop.run() }

    /// Ends `run()` (after the current callback).
    public func stop() { loop.stop() }
}

@available(*, unavailable)
extension SessionHost: Sendable {}
