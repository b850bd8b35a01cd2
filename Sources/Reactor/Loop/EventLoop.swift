internal import CLibevent
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// libevent must know about pthreads before the first event_base exists, for cross-thread wake-ups
/// (LIBEVENT-NOTES §5). Swift runs a global's initializer once, thread-safely.
private let threadingReady: Bool = evthread_use_pthreads() == 0

/// A write to a socket the peer has closed raises SIGPIPE, whose default action kills the process;
/// libevent's writev and OpenSSL's socket writes do not pass MSG_NOSIGNAL, so ignore it once.
/// SIGXFSZ likewise: a write past the file-size limit should fail with EFBIG (and pause the
/// download with a clear error), not kill the process.
private let sigpipeIgnored: Bool = {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = SIG_IGN
    return sigaction(SIGPIPE, &action, nil) == 0 && sigaction(SIGXFSZ, &action, nil) == 0
}()

private func timerFired(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<LibeventTimer>.fromOpaque(context!).takeUnretainedValue().fire()
}

private func wakeUpArrived(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<EventLoop>.fromOpaque(context!).takeUnretainedValue().drainPosted()
}

/// One libevent `event_base` run on one thread: the reactor everything in Client runs on
/// (DESIGN §2, mainline's RawServer).
///
/// All methods except `remote.post` must be called on the loop's thread. Work from other
/// threads comes back through `post`, which wakes the loop with one eventfd write.
public final class EventLoop: Scheduler {
    let base: OpaquePointer
    private var timers: [ObjectIdentifier: LibeventTimer] = [:]
    private var completions: [Int: (any Sendable) -> Void] = [:]
    private var nextCompletion = 0
    private var signalHandlers: [SignalWatch] = []
    private var connections: [ObjectIdentifier: BufferEventConnection] = [:]
    private let wakeEvent: OpaquePointer
    /// The thread-safe side of the loop: other threads hand work back through it.
    public let remote: LoopRemote

    /// A new loop over epoll; fails only if the kernel refuses descriptors.
    public init() throws(SystemError) {
        precondition(threadingReady, "evthread_use_pthreads failed")
        precondition(sigpipeIgnored, "cannot ignore SIGPIPE")
        guard let base = event_base_new() else { throw SystemError(errno: errno, operation: "event_base_new") }
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else {
            event_base_free(base)
            throw SystemError(errno: errno, operation: "eventfd")
        }
        self.base = base
        remote = LoopRemote(eventFD: fd)
        // The loop outlives its wake event (freed in deinit), so the event holds no retain.
        wakeEvent = event_new(base, fd, Int16(EV_READ | EV_PERSIST), wakeUpArrived, nil)!
        event_assign(
            wakeEvent, base, fd, Int16(EV_READ | EV_PERSIST), wakeUpArrived, Unmanaged.passUnretained(self).toOpaque())
        event_add(wakeEvent, nil)
    }

    deinit {
        // Nothing may call back into a loop being destroyed: free what is still open, silently.
        for connection in connections.values { connection.discardWithLoop() }
        connections = [:]
        for timer in timers.values { timer.release() }
        for watch in signalHandlers { watch.release() }
        event_free(wakeEvent)
        close(remote.eventFD)
        event_base_free(base)
    }

    /// The current time on the monotonic clock.
    public var now: ContinuousClock.Instant { ContinuousClock.now }

    /// Runs the loop until `stop()` is called (or `post`ed). Returns at once if already stopped.
    public func run() {
        remote.markRunning()
        event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY)
    }

    /// Runs the loop until `condition` holds or `timeout` passes; true if the condition held.
    /// For tests and for commands that wait on the loop.
    @discardableResult
    public func run(until condition: @escaping () -> Bool, timeout: Duration) -> Bool {
        if condition() { return true }
        let deadline = now + timeout
        let poll = scheduleRepeating(every: .milliseconds(1)) { [unowned self] in
            if condition() || self.now >= deadline { self.stop() }
        }
        run()
        poll.cancel()
        return condition()
    }

    /// How many connections are open on this loop.
    public var openConnectionCount: Int { connections.count }

    /// Closes every open connection (each handler hears `.closedLocally`): for shutdown. Call it
    /// before dropping the loop if handlers should hear about it; a loop destroyed with connections
    /// open frees them without telling anyone.
    public func closeAllConnections() {
        for connection in connections.values { connection.finish(.closedLocally) }
    }

    func register(_ connection: BufferEventConnection) { connections[ObjectIdentifier(connection)] = connection }
    func unregister(_ connection: BufferEventConnection) { connections.removeValue(forKey: ObjectIdentifier(connection)) }

    /// Makes `run()` return after the current callbacks finish.
    public func stop() { event_base_loopbreak(base) }

    /// Runs `task` once after `delay` (mainline's `add_task`). The returned handle cancels it.
    @discardableResult
    public func schedule(after delay: Duration, _ task: @escaping () -> Void) -> TimerHandle {
        addTimer(LibeventTimer(loop: self, interval: delay, repeats: false, task: task))
    }

    /// Runs `task` every `interval` until cancelled.
    @discardableResult
    public func scheduleRepeating(every interval: Duration, _ task: @escaping () -> Void) -> TimerHandle {
        addTimer(LibeventTimer(loop: self, interval: interval, repeats: true, task: task))
    }

    private func addTimer(_ timer: LibeventTimer) -> TimerHandle {
        timers[ObjectIdentifier(timer)] = timer
        timer.arm(base: base)
        return TimerHandle(cancel: { [weak timer] in timer?.cancel() }, isActive: { [weak timer] in timer?.isActive ?? false })
    }

    fileprivate func timerFinished(_ timer: LibeventTimer) {
        timers.removeValue(forKey: ObjectIdentifier(timer))?.release()
    }

    /// Runs `work` on `pool`, then `completion` with its result back on this loop's thread.
    public func offload<T: Sendable>(
        to pool: WorkerPool, _ work: @escaping @Sendable () -> T, completion: @escaping (T) -> Void
    ) {
        let id = nextCompletion
        nextCompletion += 1
        completions[id] = { completion($0 as! T) }
        let remote = self.remote
        pool.submit {
            let result = work()
            remote.post { loop in loop.completions.removeValue(forKey: id)?(result) }
        }
    }

    /// Calls `handler` on the loop whenever `signal` (SIGINT, SIGTERM, ...) arrives, instead of
    /// the default action; lets the owner shut down gracefully.
    public func watchSignal(_ signal: Int32, _ handler: @escaping () -> Void) {
        // A parent may have started us with the signal blocked (spawned from a thread that blocks
        // it); unblock it in this thread, or it would stay pending for ever.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let watch = SignalWatch(handler: handler)
        watch.arm(base: base, signal: signal)
        signalHandlers.append(watch)
    }

    /// Runs what other threads posted; called by the wake-up event.
    fileprivate func drainPosted() {
        var counter: UInt64 = 0
        _ = read(remote.eventFD, &counter, 8)
        for task in remote.takeAll() { task(self) }
    }
}

/// The part of an `EventLoop` other threads may use: post a task to run on the loop.
public final class LoopRemote: Sendable {
    let eventFD: Int32
    private let queue = Mutex<(tasks: [@Sendable (EventLoop) -> Void], running: Bool)>(([], false))

    init(eventFD: Int32) { self.eventFD = eventFD }

    /// Queues `task` to run on the loop's thread, with the loop as its argument, and wakes the loop.
    /// Safe from any thread; many posts between two wake-ups cost one loop iteration.
    public func post(_ task: @escaping @Sendable (EventLoop) -> Void) {
        queue.withLock { $0.tasks.append(task) }
        var one: UInt64 = 1
        _ = write(eventFD, &one, 8)
    }

    /// Asks the loop to stop from any thread.
    public func stop() { post { $0.stop() } }

    func takeAll() -> [@Sendable (EventLoop) -> Void] {
        queue.withLock { state in
            defer { state.tasks = [] }
            return state.tasks
        }
    }

    func markRunning() { queue.withLock { $0.running = true } }
}

@available(*, unavailable)
extension EventLoop: Sendable {}

/// A scheduled task; `cancel()` it to keep it from running (again).
///
/// Each scheduler makes its own kind of timer and hands out this handle to it.
public final class TimerHandle {
    private let cancelAction: () -> Void
    private let activeCheck: () -> Bool

    /// A handle whose `cancel` runs `cancel` and whose `isActive` asks `isActive`.
    public init(cancel: @escaping () -> Void, isActive: @escaping () -> Bool) {
        cancelAction = cancel
        activeCheck = isActive
    }

    /// Whether the task may still run.
    public var isActive: Bool { activeCheck() }

    /// Stops the task from running again. Safe from inside the task, and more than once.
    public func cancel() { cancelAction() }
}

/// A libevent timer event and its task.
private final class LibeventTimer {
    private weak var loop: EventLoop?
    private var event: OpaquePointer?
    private let interval: Duration
    private let repeats: Bool
    private var task: (() -> Void)?

    init(loop: EventLoop, interval: Duration, repeats: Bool, task: @escaping () -> Void) {
        self.loop = loop
        self.interval = interval
        self.repeats = repeats
        self.task = task
    }

    func arm(base: OpaquePointer) {
        // The loop's timer table retains this timer until it finishes, so the event holds no retain.
        event = event_new(
            base, -1, repeats ? Int16(EV_PERSIST) : 0, timerFired, Unmanaged.passUnretained(self).toOpaque())
        var time = timeval(duration: interval)
        event_add(event, &time)
    }

    var isActive: Bool { task != nil }

    func cancel() {
        guard task != nil else { return }
        task = nil
        if let event { event_del(event) }
        loop?.timerFinished(self)
    }

    func fire() {
        guard let task else { return }
        if !repeats { self.task = nil }
        task()
        if !repeats { loop?.timerFinished(self) }
    }

    func release() {
        if let event { event_free(event) }
        event = nil
        task = nil
    }
}

/// A signal watched on the loop (an EV_SIGNAL event); libevent restores the old action when freed.
private final class SignalWatch {
    private var event: OpaquePointer?
    let handler: () -> Void

    init(handler: @escaping () -> Void) { self.handler = handler }

    func arm(base: OpaquePointer, signal: Int32) {
        // The loop's list retains this watch until the loop is freed.
        event = event_new(
            base, signal, Int16(EV_SIGNAL | EV_PERSIST),
            { _, _, context in Unmanaged<SignalWatch>.fromOpaque(context!).takeUnretainedValue().handler() },
            Unmanaged.passUnretained(self).toOpaque())
        event_add(event, nil)
    }

    func release() {
        if let event { event_free(event) }
        event = nil
    }
}

extension timeval {
    init(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
