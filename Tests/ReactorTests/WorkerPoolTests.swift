import Synchronization
import Testing

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct WorkerPoolTests {
    // Every submitted job runs exactly once, and shutdown waits for the queue to drain.
    @Test func runsEveryJobOnceAndDrainsOnShutdown() {
        let pool = WorkerPool(threads: 4)
        let seen = Mutex<[Int]>([])
        for index in 0..<1000 { pool.submit { seen.withLock { $0.append(index) } } }
        pool.shutdown()
        #expect(seen.withLock { $0.sorted() } == Array(0..<1000))
        pool.shutdown()  // twice is harmless
    }

    // Jobs really run in parallel: two jobs that each wait for the other can only finish if
    // they run on two threads at once.
    @Test func runsJobsConcurrently() {
        let pool = WorkerPool(threads: 2)
        let arrived = Mutex(0)
        let finished = Mutex(0)
        for _ in 0..<2 {
            pool.submit {
                arrived.withLock { $0 += 1 }
                var spins = 0
                while arrived.withLock({ $0 }) < 2 && spins < 5_000 {
                    usleep(1000)
                    spins += 1
                }
                if arrived.withLock({ $0 }) == 2 { finished.withLock { $0 += 1 } }
            }
        }
        pool.shutdown()
        #expect(finished.withLock { $0 } == 2)
    }

    // map with a consumer hands results over in item order, the first ones while the pool is
    // still computing later ones (a daemon attaches torrents while the next are parsed).
    @Test func mapHandsResultsOverInOrderAsChunksFinish() {
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        let computed = Mutex(0)
        var consumed: [Int] = []
        var computedAtFirst = -1
        pool.map(Array(0..<200), { value -> Int in
            usleep(500)
            computed.withLock { $0 += 1 }
            return value * 2
        }) { value in
            if consumed.isEmpty { computedAtFirst = computed.withLock { $0 } }
            consumed.append(value)
        }
        #expect(consumed == (0..<200).map { $0 * 2 })
        #expect(computedAtFirst >= 1 && computedAtFirst < 200, "\(computedAtFirst) computed when the first was handed over")
        pool.map([Int](), { $0 }) { _ in Issue.record("nothing to hand over") }
    }

    // map keeps the order of its items whatever thread computed each, and runs on several threads.
    @Test func mapKeepsOrderAcrossThreads() {
        let pool = WorkerPool(threads: 3)
        defer { pool.shutdown() }
        let threads = ConditionLock()
        nonisolated(unsafe) var seen = Set<UInt>()
        let squares = pool.map(Array(0..<1000)) { value -> Int in
            threads.withLock { _ = seen.insert(UInt(pthread_self())) }
            usleep(50)
            return value * value
        }
        #expect(squares == (0..<1000).map { $0 * $0 })
        #expect(threads.withLock { seen.count } > 1)
        #expect(pool.map([Int]()) { $0 }.isEmpty)
    }
}
