/// Runs tasks later, on one thread (mainline's `add_task`, transmission's TimerMaker).
///
/// `EventLoop` schedules on libevent's clock; `ManualLoop` (ReactorTesting) on virtual time that
/// tests advance by hand. Client code takes a `Scheduler`, never a concrete loop, so it runs on both.
public protocol Scheduler: AnyObject {
    /// The current time (monotonic).
    var now: ContinuousClock.Instant { get }
    /// Runs `task` once after `delay`; the handle cancels it.
    @discardableResult func schedule(after delay: Duration, _ task: @escaping () -> Void) -> TimerHandle
    /// Runs `task` every `interval` until cancelled.
    @discardableResult func scheduleRepeating(every interval: Duration, _ task: @escaping () -> Void) -> TimerHandle
}
