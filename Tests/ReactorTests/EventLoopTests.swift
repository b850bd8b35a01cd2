import Synchronization
import Testing

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct EventLoopTests {
    // Timers fire in deadline order, not scheduling order; a cancelled one never fires; a
    // repeating one fires until cancelled from inside its own task.
    @Test func timersFireInOrderAndCancel() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        loop.schedule(after: .milliseconds(30)) { fired.append("c") }
        loop.schedule(after: .milliseconds(10)) { fired.append("a") }
        let cancelled = loop.schedule(after: .milliseconds(15)) { fired.append("x") }
        loop.schedule(after: .milliseconds(20)) { fired.append("b") }
        cancelled.cancel()
        #expect(!cancelled.isActive)
        var ticks = 0
        var repeating: TimerHandle?
        repeating = loop.scheduleRepeating(every: .milliseconds(5)) {
            ticks += 1
            if ticks == 3 { repeating?.cancel() }
        }
        #expect(loop.run(until: { fired.count == 3 }, timeout: .seconds(2)))
        loop.run(until: { false }, timeout: .milliseconds(30))
        #expect(fired == ["a", "b", "c"])
        #expect(ticks == 3)
        #expect(repeating?.isActive == false)
    }

    // Work on a pool comes back to the loop thread with its result; posts from other threads
    // wake the loop.
    @Test func offloadAndPostReturnToLoopThread() throws {
        let loop = try EventLoop()
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        let loopThread = pthread_self()
        var results: [Int] = []
        var onLoopThread = true
        for value in 0..<50 {
            loop.offload(to: pool, { value * value }) { result in
                results.append(result)
                onLoopThread = onLoopThread && pthread_equal(pthread_self(), loopThread) != 0
            }
        }
        let posted = Mutex(0)
        let remote = loop.remote
        pool.submit { remote.post { _ in posted.withLock { $0 += 1 } } }
        #expect(loop.run(until: { results.count == 50 && posted.withLock { $0 } == 1 }, timeout: .seconds(5)))
        #expect(results.sorted() == (0..<50).map { $0 * $0 })
        #expect(onLoopThread)
    }

    // A watched signal runs its handler on the loop instead of killing the process. The signal is
    // sent to the process, as `kill` or a service manager sends SIGTERM.
    @Test func signalRunsHandler() throws {
        let loop = try EventLoop()
        var caught = 0
        loop.watchSignal(SIGUSR1) { caught += 1 }
        loop.schedule(after: .milliseconds(5)) { kill(getpid(), SIGUSR1) }
        #expect(loop.run(until: { caught == 1 }, timeout: .seconds(2)))
    }

    // Raising the descriptor limit reports a usable capacity.
    @Test func openFileLimitIsRaised() {
        #expect(ResourceLimits.raiseOpenFileLimit() >= 1024)
    }
}
