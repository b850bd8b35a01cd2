import Reactor
import TorrentCore

// One-shot entry points for the command line: each runs its own threads or loop and returns,
// so a command needs nothing from Reactor.

extension TorrentCreator {
    /// Makes a torrent for `content`, hashing on `threads` threads.
    public static func create(
        _ content: ContentScan, options: CreateOptions, threads: Int,
        progress: (_ piecesDone: Int, _ pieceCount: Int, _ bytesDone: Int64) -> Void = { _, _, _ in }
    ) throws(CreateError) -> [UInt8] {
        let pool = WorkerPool(threads: threads)
        defer { pool.shutdown() }
        return try create(content, options: options, pool: pool, progress: progress)
    }

    /// Writes `bytes` to `path` atomically (a temporary file, synced, then renamed).
    public static func save(_ bytes: [UInt8], to path: String) throws(SystemError) {
        try FileContents.writeAtomically(bytes, to: path)
    }

    /// Threads to hash on by default: one per core.
    public static var defaultThreads: Int { WorkerPool.coreCount }
}

extension DataVerifier {
    /// Verifies `metainfo`'s content under `directory`, hashing on `threads` threads.
    public static func verify(
        _ metainfo: Metainfo, directory: String, threads: Int,
        progress: (_ piecesDone: Int, _ pieceCount: Int, _ bytesDone: Int64) -> Void = { _, _, _ in }
    ) -> VerificationReport {
        let pool = WorkerPool(threads: threads)
        defer { pool.shutdown() }
        return verify(metainfo, directory: directory, pool: pool, progress: progress)
    }
}

extension TrackerScraper {
    /// Scrapes `infoHash` from every tracker in `trackers` at once and waits for all answers (at
    /// most `timeout`); a tracker that has not answered by then is reported as silent.
    public static func scrapeAll(
        _ infoHash: InfoHash, trackers: [String], timeout: Duration = .seconds(15)
    ) throws(SystemError) -> [(String, Result<ScrapeCounts, ScrapeFailure>)] {
        let loop = try EventLoop()
        let scraper = TrackerScraper(loop: loop)
        var answers: [(String, Result<ScrapeCounts, ScrapeFailure>)]?
        scraper.scrape(infoHash, trackers: trackers, timeout: timeout) { answers = $0 }
        _ = loop.run(until: { answers != nil }, timeout: timeout + .seconds(5))
        return answers ?? trackers.map { ($0, .failure(.silent(for: timeout))) }
    }
}
