import Foundation
import Testing

import ReactorTesting
@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// A file of `count` pattern bytes under /tmp, removed by the caller.
private func makeFile(_ count: Int, seed: UInt64) throws -> String {
    let path = NSTemporaryDirectory() + "evtorrent-file-\(UUID().uuidString)"
    try Data(patternBytes(count, seed: seed)).write(to: URL(fileURLWithPath: path))
    return path
}

/// Drops the file's pages from the page cache (clean pages go at once).
private func evictFromPageCache(_ path: String) {
    let fd = open(path, O_RDONLY)
    fsync(fd)
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
    close(fd)
}

@Suite struct FileServingTests {
    // The cache holds at most `capacity` files, closing the least recently used; a hit costs no open.
    @Test func openFileCacheEvictsLeastRecentlyUsed() throws {
        let paths = try (0..<3).map { try makeFile(100, seed: UInt64($0)) }
        defer { paths.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let cache = OpenFileCache(capacity: 2)
        let first = try cache.file(at: paths[0])
        _ = try cache.file(at: paths[1])
        #expect(try cache.file(at: paths[0]) === first)  // hit, and now most recent
        _ = try cache.file(at: paths[2])  // evicts paths[1]
        #expect(cache.count == 2)
        #expect(cache.opens == 3)
        #expect(try cache.file(at: paths[0]) === first)
        _ = try cache.file(at: paths[1])  // reopened
        #expect(cache.opens == 4)
        #expect(throws: SystemError.self) { try cache.file(at: paths[0] + ".missing") }
    }

    // Hits in the middle, at either end and after evictions keep the list in use order, every
    // open path in it once.
    @Test func openFileCacheKeepsUseOrder() throws {
        let paths = try (0..<5).map { try makeFile(100, seed: UInt64(20 + $0)) }
        defer { paths.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let cache = OpenFileCache(capacity: 4)
        for index in [0, 1, 2, 3] { _ = try cache.file(at: paths[index]) }
        #expect(cache.pathsNewestFirst == [3, 2, 1, 0].map { paths[$0] })
        _ = try cache.file(at: paths[1])  // from the middle
        _ = try cache.file(at: paths[0])  // the oldest
        _ = try cache.file(at: paths[0])  // already the newest
        #expect(cache.pathsNewestFirst == [0, 1, 3, 2].map { paths[$0] })
        _ = try cache.file(at: paths[4])  // evicts paths[2], the least recently used
        #expect(cache.pathsNewestFirst == [4, 0, 1, 3].map { paths[$0] })
        cache.evict(paths[0])
        #expect(cache.pathsNewestFirst == [4, 1, 3].map { paths[$0] })
        #expect(cache.count == 3)
        #expect(cache.opens == 5)
    }

    // A file evicted for room while something still holds it (a queued block) is used again, not
    // opened a second time; once nothing holds it, it is opened anew. `evict` (the file changed)
    // always opens anew.
    @Test func anEvictedFileStillInUseIsReused() throws {
        let paths = try (0..<3).map { try makeFile(100, seed: UInt64(10 + $0)) }
        defer { paths.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let cache = OpenFileCache(capacity: 1)
        var held: OpenFile? = try cache.file(at: paths[0])
        _ = try cache.file(at: paths[1])  // evicts paths[0], still held
        #expect(try cache.file(at: paths[0]) === held)
        #expect(cache.opens == 2)
        _ = try cache.file(at: paths[2])  // evicts paths[0] again
        held = nil
        _ = try cache.file(at: paths[0])  // nothing held it: opened anew
        #expect(cache.opens == 4)
        let kept = try cache.file(at: paths[0])
        cache.evict(paths[0])
        #expect(try cache.file(at: paths[0]) !== kept)
        #expect(cache.opens == 5)
    }

    // A block in the page cache is handed over at once; a cold one is read on the disk pool and
    // handed over later on the loop, with the right bytes either way.
    @Test func blockReaderNeverWaitsOnTheLoop() throws {
        let path = try makeFile(1 << 20, seed: 3)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let loop = try EventLoop()
        let pool = WorkerPool(threads: 1)
        defer { pool.shutdown() }
        let files = OpenFileCache(capacity: 4)
        let reader = BlockReader(loop: loop, files: files, diskPool: pool)
        let expected = Array(patternBytes(1 << 20, seed: 3)[65_536..<81_920])

        _ = try Data(contentsOf: URL(fileURLWithPath: path))  // warm
        var warm: FileBlock?
        reader.block(path: path, offset: 65_536, length: 16_384) { warm = try? $0.get() }
        #expect(warm != nil, "a cached block must be ready synchronously")
        #expect(reader.diskReads == 0)
        #expect(try warm?.readBytes() == expected)

        evictFromPageCache(path)
        try files.file(at: path).forgetResidency()  // it remembers chunks it saw resident for a second
        var cold: FileBlock?
        reader.block(path: path, offset: 65_536, length: 16_384) { cold = try? $0.get() }
        if reader.diskReads == 1 {  // eviction can be refused (e.g. the page is mapped elsewhere)
            #expect(cold == nil, "a cold block must not be read on the loop")
            #expect(loop.run(until: { cold != nil }, timeout: .seconds(5)))
        }
        #expect(try cold?.readBytes() == expected)

        var failure: SystemError?
        reader.block(path: path, offset: (1 << 20) - 10, length: 16_384) {
            if case .failure(let error) = $0 { failure = error }
        }
        #expect(failure != nil, "a block past the end of the file is refused")
    }

    // A file truncated while blocks mapped from it are queued fails that connection (the kernel's
    // copy faults, EFAULT) instead of killing the process with SIGBUS.
    @Test func truncatedMappedFileFailsConnectionNotProcess() throws {
        let path = try makeFile(4 << 20, seed: 4)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try OpenFile(path: path, mode: .mappedReference)
        let loop = try EventLoop()
        let sender = Probe()
        sender.onMade = { connection in
            for index in 0..<256 {
                connection.write(header: [0], block: FileBlock(file: file, offset: Int64(index) * 16_384, length: 16_384))
            }
            truncate(path, 0)
        }
        let listener = try loop.listen(on: loopback) { _ in sender }
        let receiver = Probe()
        loop.connect(to: listener.localAddress, handler: receiver)
        #expect(loop.run(until: { !sender.closeReasons.isEmpty && !receiver.closeReasons.isEmpty }, timeout: .seconds(10)))
        #expect(receiver.received.count < 256 * 16_385)
        guard case .failed(let error)? = sender.closeReasons.first else {
            Issue.record("expected the sender to fail, got \(sender.closeReasons)")
            return
        }
        #expect(error.errno == EFAULT)
    }

    // A file truncated under the reader: warming a block it no longer holds reports it (once,
    // no retry loop), the file is closed, and asking again is refused at once from its new size.
    // Both payload modes (it once spun the loop in the mapped one).
    @Test(arguments: [PayloadMode.mappedReference, .copy])
    func truncatedFileIsRefusedNotWarmedForEver(mode: PayloadMode) throws {
        let path = try makeFile(1 << 20, seed: 6)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let loop = try EventLoop()
        let pool = WorkerPool(threads: 1)
        defer { pool.shutdown() }
        let files = OpenFileCache(capacity: 4, mode: mode)
        let reader = BlockReader(loop: loop, files: files, diskPool: pool)
        _ = try files.file(at: path)  // opened at 1 MiB
        truncate(path, 65_536)
        try files.file(at: path).forgetResidency()
        var first: Result<FileBlock, SystemError>?
        reader.block(path: path, offset: 500_000, length: 16_384) { first = $0 }
        #expect(loop.run(until: { first != nil }, timeout: .seconds(5)))
        guard case .failure? = first else {
            Issue.record("a block past the new end was handed over: \(String(describing: first))")
            return
        }
        let reads = reader.diskReads
        var again: Result<FileBlock, SystemError>?
        reader.block(path: path, offset: 500_000, length: 16_384) { again = $0 }
        guard case .failure(let error)? = again else {
            Issue.record("the second ask was not refused at once: \(String(describing: again))")
            return
        }
        #expect(error.errno == ERANGE && reader.diskReads == reads)
    }

    // A per-connection cap and a group cap both slow a transfer to about their rate.
    @Test func rateLimitsSlowTransfers() throws {
        let loop = try EventLoop()
        let group = RateLimitGroup(loop: loop, limit: RateLimit(writeBytesPerSecond: 2 << 20))
        let payload = [UInt8](repeating: 1, count: 600 << 10)
        func timeTransfer(configure: @escaping (any Connection) -> Void, connections: Int = 1) throws -> Duration {
            let sender = Probe()
            sender.onMade = { connection in
                configure(connection)
                connection.write(payload)
                connection.close(flushingOutput: true)
            }
            let listener = try loop.listen(on: loopback) { _ in sender }
            var receivers: [Probe] = []
            let start = loop.now
            for _ in 0..<connections {
                let receiver = Probe()
                receivers.append(receiver)
                loop.connect(to: listener.localAddress, handler: receiver)
            }
            #expect(loop.run(until: { receivers.allSatisfy { $0.received.count == payload.count } }, timeout: .seconds(10)))
            return loop.now - start
        }
        let unlimited = try timeTransfer { _ in }
        let perConnection = try timeTransfer { $0.setRateLimit(RateLimit(writeBytesPerSecond: 1 << 20)) }
        let grouped = try timeTransfer(configure: { $0.join(group) }, connections: 2)
        // 600 KiB at 1 MiB/s ≈ 0.59 s; 1.2 MiB at 2 MiB/s shared ≈ 0.59 s.
        #expect(unlimited < .milliseconds(300))
        #expect(perConnection > .milliseconds(450), "\(perConnection)")
        #expect(grouped > .milliseconds(450), "\(grouped)")
    }
}
