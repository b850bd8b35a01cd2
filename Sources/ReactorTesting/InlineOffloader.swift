import Reactor

/// An `Offloader` for tests: the work runs at once on the caller's thread, and its result is
/// handed back as a zero-delay task on `loop`, the way the real loop hands back pool results on
/// a later turn. `loop.runPending()` (or any `advance`) delivers it.
public final class InlineOffloader: Offloader {
    private unowned let loop: ManualLoop
    /// Jobs run so far.
    public private(set) var jobsRun = 0

    /// Hands results back on `loop`.
    public init(loop: ManualLoop) { self.loop = loop }

    public func offload<T: Sendable>(to pool: WorkerPool, _ work: @escaping @Sendable () -> T, completion: @escaping (T) -> Void) {
        jobsRun += 1
        let result = work()
        loop.schedule(after: .zero) { completion(result) }
    }
}
