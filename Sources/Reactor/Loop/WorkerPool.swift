#if canImport(Glibc)
    import Glibc
#endif

/// A fixed set of threads running jobs in submission order (DESIGN §2: hashing and disk work off the loop).
///
/// Jobs are `@Sendable` closures; a job reports its result by whatever Sendable channel it was
/// given (a Mutex-guarded collector now, the loop's completion queue once the event loop exists).
public final class WorkerPool: @unchecked Sendable {
    // All mutable state is guarded by `lock`; the threads are joined in `shutdown`.
    private let lock = ConditionLock()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var stopping = false
    private var threads: [pthread_t] = []

    /// How many threads the pool runs.
    public let threadCount: Int

    /// Starts `threads` worker threads (at least one). The threads keep the pool alive: call `shutdown()`.
    public init(threads: Int) {
        threadCount = max(1, threads)
        for _ in 0..<threadCount { self.threads.append(Self.spawn { [self] in self.workLoop() }) }
    }

    /// The number of cores online: the default size of a hash pool.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Queues `job` to run on a worker thread.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        lock.withLock {
            precondition(!stopping, "submit after shutdown")
            jobs.append(job)
            lock.signal()
        }
    }

    /// `transform` of every item, computed on the pool's threads in chunks; the caller blocks until
    /// all are done. For start-up work before the loop runs (loading thousands of torrents), never
    /// on the loop.
    public func map<T: Sendable, U: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> U) -> [U] {
        var values: [U] = []
        values.reserveCapacity(items.count)
        map(items, transform) { values.append($0) }
        return values
    }

    /// `transform` of every item, computed on the pool's threads in chunks and handed to `consume`
    /// on the calling thread in item order, each chunk as soon as it is done: the caller's work on
    /// the first results overlaps the pool's on the rest.
    public func map<T: Sendable, U: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> U, consume: (U) -> Void) {
        let chunk = max(1, (items.count + 16 * threadCount - 1) / (16 * threadCount))
        let done = ConditionLock()
        let results = ResultSlots<U>(count: items.count)
        let starts = Array(stride(from: 0, to: items.count, by: chunk))
        for start in starts {
            let slice = Array(items[start..<min(start + chunk, items.count)])
            submit {
                let values = slice.map(transform)
                done.withLock {
                    results.store(values, at: start)
                    done.broadcast()
                }
            }
        }
        for start in starts {
            let end = min(start + chunk, items.count)
            let values: [U] = done.withLock {
                while results.values[end - 1] == nil { done.wait() }
                return results.take(start..<end)
            }
            for value in values { consume(value) }
        }
    }

    /// Runs the jobs already queued, then stops and joins every thread. Safe to call twice.
    public func shutdown() {
        let toJoin: [pthread_t] = lock.withLock {
            stopping = true
            lock.broadcast()
            defer { threads = [] }
            return threads
        }
        for thread in toJoin { pthread_join(thread, nil) }
    }

    private func workLoop() {
        while true {
            let job: (@Sendable () -> Void)? = lock.withLock {
                while head == jobs.count && !stopping { lock.wait() }
                guard head < jobs.count else { return nil }
                let job = jobs[head]
                head += 1
                if head == jobs.count {  // drained: drop the consumed prefix
                    jobs.removeAll(keepingCapacity: true)
                    head = 0
                }
                return job
            }
            guard let job else { return }
            job()
        }
    }

    private static func spawn(_ body: @escaping () -> Void) -> pthread_t {
        final class Box {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        // The new thread takes over this retain and releases it when its body returns.
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        return thread
    }
}

/// Where `WorkerPool.map` gathers its chunks (guarded by its lock).
private final class ResultSlots<U>: @unchecked Sendable {
    var values: [U?]
    init(count: Int) { values = [U?](repeating: nil, count: count) }
    func store(_ chunk: [U], at start: Int) {
        for (offset, value) in chunk.enumerated() { values[start + offset] = value }
    }
    /// The values in `range`, each slot emptied (its memory goes with the consumer).
    func take(_ range: Range<Int>) -> [U] {
        range.map { index in
            defer { values[index] = nil }
            return values[index]!
        }
    }
}

/// A pthread mutex with one condition variable: the pool's queue, and callers that wait for results.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// A new unlocked mutex and its condition.
    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a signal; call with the lock held.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a signal or until `nanoseconds` pass; call with the lock held.
    public func wait(nanoseconds: Int64) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let total = Int64(now.tv_nsec) + nanoseconds
        var deadline = timespec(tv_sec: now.tv_sec + Int(total / 1_000_000_000), tv_nsec: Int(total % 1_000_000_000))
        pthread_cond_timedwait(condition, mutex, &deadline)
    }

    /// Wakes one waiter.
    public func signal() { pthread_cond_signal(condition) }
    /// Wakes every waiter.
    public func broadcast() { pthread_cond_broadcast(condition) }
}
