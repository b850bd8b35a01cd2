import Reactor
import TorrentCore

/// The HTTP tracker `evtorrent seed` runs by default (announce and scrape, compact IPv4/IPv6
/// peers, BEP 3/23/7/48), so a seed and any client holding the .torrent form a swarm with nothing
/// else installed. Safe against malformed queries: they get a bencoded failure, never a crash.
public final class EmbeddedTracker {
    private var registry: SwarmRegistry
    private var server: HTTPServer?
    /// Frees expired peers and emptied swarms each minute.
    private var sweep: TimerHandle?
    private unowned let loop: EventLoop
    private let log: Log
    private var random = SystemRandomNumberGenerator()
    /// Announces answered.
    public private(set) var announces = 0
    /// Told of every leecher that announces (not stopped), and of every first announce (a magnet
    /// client may not know what it lacks), with the address it listens on.
    public var leecherAnnounced: ((InfoHash, SocketAddress) -> Void)?

    /// Where clients announce: `http://HOST:PORT/announce`.
    public func announceURL(host: String) -> String {
        let port = server?.localAddress.port ?? 0
        return host.utf8.contains(UInt8(ascii: ":")) ? "http://[\(host)]:\(port)/announce" : "http://\(host):\(port)/announce"
    }

    /// The bound address.
    public var localAddress: SocketAddress? { server?.localAddress }

    /// Starts serving on `address`; `allowed` limits it to those torrents (nil: any).
    public init(
        loop: EventLoop, address: SocketAddress, allowed: Set<InfoHash>?, interval: Duration = .seconds(1800), log: Log
    ) throws(SystemError) {
        self.loop = loop
        self.log = log
        registry = SwarmRegistry(interval: interval, allowed: allowed)
        server = try HTTPServer(loop: loop, address: address, limits: HTTPServerLimits(maxHeadBytes: 8 << 10, maxBodyBytes: 0)) { [unowned self] in
            self.handle($0)
        }
        sweep = loop.scheduleRepeating(every: .seconds(60)) { [weak self] in
            guard let self else { return }
            self.registry.sweep(now: self.loop.now)
        }
    }

    /// Adds the seeder itself to a swarm (refresh at least every interval).
    public func register(_ infoHash: InfoHash, peerID: [UInt8], peer: TrackerPeer) {
        registry.register(infoHash, peerID: peerID, peer: peer, isSeed: true, now: loop.now)
    }

    /// Allows another torrent.
    public func allow(_ infoHash: InfoHash) { registry.allowed?.insert(infoHash) }

    /// Stops serving.
    public func close() {
        server?.close()
        server = nil
        sweep?.cancel()
        sweep = nil
    }

    private func handle(_ request: HTTPRequest) -> HTTPServerResponse {
        switch request.path {
        case "/announce": return announce(request)
        case "/scrape": return scrape(request)
        default: return HTTPServerResponse(status: 404, body: Array("not found\n".utf8))
        }
    }

    private func announce(_ request: HTTPRequest) -> HTTPServerResponse {
        let parsed: AnnounceRequest
        do { parsed = try AnnounceRequest(query: request.query) } catch {
            log.debug("tracker_bad_announce", [("from", request.remoteAddress.map { "\($0)" } ?? "?"), ("reason", error)])
            return bencoded(AnnounceResponse.failure(error.description))
        }
        guard let remote = request.remoteAddress else { return bencoded(AnnounceResponse.failure("no client address")) }
        guard let response = registry.announce(parsed, ip: remote.ip, now: loop.now, random: &random) else {
            return bencoded(AnnounceResponse.failure("unregistered torrent"))
        }
        announces += 1
        // A first announce with nothing left may be a magnet client without the size yet.
        if parsed.left > 0 || parsed.event == .started, parsed.event != .stopped, let address = SocketAddress(ip: remote.ip, port: parsed.port) {
            leecherAnnounced?(parsed.infoHash, address)
        }
        log.info("tracker_announce", [("from", remote), ("event", parsed.event.rawValue), ("peers", response.peers.count)])
        return bencoded(response.encoded(compact: parsed.compact))
    }

    private func scrape(_ request: HTTPRequest) -> HTTPServerResponse {
        let hashes = (QueryString.parse(request.query)["info_hash"] ?? []).compactMap { InfoHash(bytes: $0) }
        var files = BencodeDictionary()
        for hash in hashes.prefix(100) {
            guard let counts = registry.scrape(hash, now: loop.now) else { continue }
            files[hash.bytes] = .dictionary(
                BencodeDictionary([
                    ("complete", .integer(Int64(counts.complete))), ("downloaded", .integer(Int64(counts.downloaded))),
                    ("incomplete", .integer(Int64(counts.incomplete))),
                ]))
        }
        return bencoded(Bencode.encode(.dictionary(BencodeDictionary([("files", .dictionary(files))]))))
    }

    private func bencoded(_ body: [UInt8]) -> HTTPServerResponse {
        HTTPServerResponse(status: 200, headers: [("Content-Type", "text/plain")], body: body)
    }
}

@available(*, unavailable)
extension EmbeddedTracker: Sendable {}
