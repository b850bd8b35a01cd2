internal import CLibevent

/// A bandwidth cap in bytes per second, each direction optional (nil = unlimited).
public struct RateLimit: Equatable, Sendable {
    /// Download cap.
    public var readBytesPerSecond: Int?
    /// Upload cap.
    public var writeBytesPerSecond: Int?

    /// A cap on either or both directions.
    public init(readBytesPerSecond: Int? = nil, writeBytesPerSecond: Int? = nil) {
        self.readBytesPerSecond = readBytesPerSecond
        self.writeBytesPerSecond = writeBytesPerSecond
    }

    /// Ticks of 100 ms keep the flow smooth; the burst is one tick's worth (libevent requires
    /// burst ≥ rate per tick).
    static let tick = timeval(tv_sec: 0, tv_usec: 100_000)

    /// A libevent token-bucket configuration; the caller frees it with `ev_token_bucket_cfg_free`.
    func makeConfiguration() -> OpaquePointer? {
        func perTick(_ rate: Int?) -> Int {
            guard let rate else { return evtorrent_rate_limit_max() }
            return max(1, min(rate / 10, evtorrent_rate_limit_max()))
        }
        var tick = Self.tick
        let read = perTick(readBytesPerSecond)
        let write = perTick(writeBytesPerSecond)
        return ev_token_bucket_cfg_new(read, read, write, write, &tick)
    }
}

/// A cap shared by many connections (a libevent rate-limit group): the global upload and download
/// limits. Connections join with `Connection.join(_:)`.
public final class RateLimitGroup {
    let group: OpaquePointer
    /// The cap in force.
    public private(set) var limit: RateLimit

    /// A group on `loop` with `limit`.
    public init(loop: EventLoop, limit: RateLimit) {
        self.limit = limit
        let configuration = limit.makeConfiguration()!
        defer { ev_token_bucket_cfg_free(configuration) }  // the group keeps its own copy
        group = bufferevent_rate_limit_group_new(loop.base, configuration)!
    }

    /// Changes the cap for every member.
    public func update(_ limit: RateLimit) {
        self.limit = limit
        let configuration = limit.makeConfiguration()!
        defer { ev_token_bucket_cfg_free(configuration) }
        bufferevent_rate_limit_group_set_cfg(group, configuration)
    }

    // Members must leave first; BufferEventConnection.finish frees its bufferevent, which leaves.
    deinit { bufferevent_rate_limit_group_free(group) }
}

@available(*, unavailable)
extension RateLimitGroup: Sendable {}
