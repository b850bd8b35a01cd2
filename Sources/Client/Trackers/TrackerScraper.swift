import Reactor
import TorrentCore

/// Scrapes one torrent at each of its trackers, HTTP (BEP 48) or UDP (BEP 15), in parallel.
public final class TrackerScraper {
    private unowned let loop: EventLoop
    private let http: HTTPClient
    private let udp: UDPTrackerClient

    /// A scraper on `loop`.
    public init(loop: EventLoop) {
        self.loop = loop
        http = HTTPClient.forTrackers(loop: loop)
        udp = UDPTrackerClient(loop: loop, resolver: Resolver(loop: loop))
    }

    /// Each tracker URL with its counts or the reason it has none; `completion` runs once on the
    /// loop, within `timeout`: a tracker that has not answered by then is reported as silent.
    public func scrape(
        _ infoHash: InfoHash, trackers: [String], timeout: Duration = .seconds(15),
        completion: @escaping ([(String, Result<ScrapeCounts, ScrapeFailure>)]) -> Void
    ) {
        var results: [Int: Result<ScrapeCounts, ScrapeFailure>] = [:]
        var done = false
        var deadline: TimerHandle?
        let finish = {
            guard !done, results.count == trackers.count else { return }
            done = true
            deadline?.cancel()
            completion(trackers.indices.map { (trackers[$0], results[$0]!) })
        }
        if trackers.isEmpty { loop.schedule(after: .zero) { completion([]) } }
        deadline = loop.schedule(after: timeout) {
            for index in trackers.indices where results[index] == nil {
                results[index] = .failure(.silent(for: timeout))
            }
            finish()
        }
        for (index, url) in trackers.enumerated() {
            let lower = url.lowercased()
            if lower.hasPrefix("udp://") {
                udp.scrape(url: url, infoHashes: [infoHash]) { result in
                    guard results[index] == nil else { return }
                    switch result {
                    case .success(let counts) where counts.count == 1: results[index] = .success(counts[0])
                    case .success: results[index] = .failure(ScrapeFailure("no counts in the answer"))
                    case .failure(let error): results[index] = .failure(ScrapeFailure(error.description))
                    }
                    finish()
                }
            } else if lower.hasPrefix("http://") || lower.hasPrefix("https://"),
                let scrapeURL = ScrapeCounts.scrapeURL(forAnnounce: url)
            {
                let separator = scrapeURL.utf8.contains(UInt8(ascii: "?")) ? "&" : "?"
                http.get(scrapeURL + separator + "info_hash=" + PercentEncoding.encode(infoHash.bytes), timeout: timeout) { result in
                    guard results[index] == nil else { return }
                    switch result {
                    case .success(let response):
                        do { results[index] = .success(try ScrapeCounts(bencoded: try response.trackerBody(), infoHash: infoHash)) } catch {
                            results[index] = .failure(ScrapeFailure("\(error)"))
                        }
                    case .failure(let error): results[index] = .failure(ScrapeFailure(error.description))
                    }
                    finish()
                }
            } else {
                loop.schedule(after: .zero) {
                    results[index] = .failure(ScrapeFailure("this tracker does not support scrape"))
                    finish()
                }
            }
        }
    }
}

@available(*, unavailable)
extension TrackerScraper: Sendable {}

/// Why one tracker gave no scrape counts, in words.
public struct ScrapeFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }

    /// A tracker that did not answer within `timeout`.
    static func silent(for timeout: Duration) -> ScrapeFailure { ScrapeFailure("no answer within \(timeout.components.seconds) s") }
}
