/// Runs blocking work on a worker pool and hands the result back on the loop's thread.
///
/// `EventLoop` does it through its wake-up queue; ReactorTesting's `InlineOffloader` runs the work
/// at once and delivers the result on a `ManualLoop`, so Client code that hashes, reads and writes
/// is tested on virtual time.
public protocol Offloader: AnyObject {
    /// Runs `work` on `pool`, then `completion` with its result on the loop's thread.
    func offload<T: Sendable>(to pool: WorkerPool, _ work: @escaping @Sendable () -> T, completion: @escaping (T) -> Void)
}

extension EventLoop: Offloader {}
