import Reactor
import TorrentCore

/// Why a UDP tracker exchange failed.
public enum UDPTrackerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not `udp://host:port`.
    case invalidURL(String)
    /// The host name did not resolve.
    case unresolved(String)
    /// No answer after every retry of the BEP 15 schedule.
    case timedOut(attempts: Int)
    /// The tracker sent an error packet.
    case tracker(String)
    /// The tracker answered with the wrong kind of packet.
    case unexpectedResponse

    public var description: String {
        switch self {
        case .invalidURL(let url): return "invalid UDP tracker URL '\(url)'"
        case .unresolved(let reason): return reason
        case .timedOut(let attempts): return "no answer after \(attempts) attempts"
        case .tracker(let message): return "tracker said: \(message)"
        case .unexpectedResponse: return "unexpected response"
        }
    }
}

/// Announces and scrapes over UDP (BEP 15): a connection id fetched first and reused for 60 s,
/// transaction ids matching answers to questions, and retries at 15·2ⁿ s (bounded).
public final class UDPTrackerClient {
    private unowned let loop: EventLoop
    private let resolver: Resolver
    private let baseTimeout: Duration
    private var services: [Bool: UDPService] = [:]
    /// The shared service for a family (the session's peer port), if there is one; else the
    /// client opens its own on an ephemeral port.
    var sharedService: ((_ ipv6: Bool) -> UDPService?)?
    private var connectionIDs: [SocketAddress: (id: UInt64, obtained: ContinuousClock.Instant)] = [:]
    private var pending: [UInt32: (UDPTrackerPacket) -> Void] = [:]
    private var random = SystemRandomNumberGenerator()
    /// Datagrams sent, for tests and diagnostics.
    public private(set) var datagramsSent = 0

    /// A client on `loop`; `baseTimeout` is BEP 15's 15 s (tests shrink it).
    public init(loop: EventLoop, resolver: Resolver, baseTimeout: Duration = .seconds(15)) {
        self.loop = loop
        self.resolver = resolver
        self.baseTimeout = baseTimeout
    }

    /// Announces `request` to `url`; `completion` runs on the loop once.
    public func announce(
        url: String, request: AnnounceRequest, completion: @escaping (Result<AnnounceResponse, UDPTrackerError>) -> Void
    ) {
        send(url, { .announceRequest(connectionID: $0, transaction: $1, request: request) }) { reply in
            guard case .announceResponse(_, let interval, let leechers, let seeders, let peers) = reply else { return nil }
            return AnnounceResponse(interval: Int(interval), peers: peers, complete: Int(seeders), incomplete: Int(leechers))
        } completion: { completion($0) }
    }

    /// Scrapes `infoHashes` at `url` (BEP 15 scrape); counts come back in the same order.
    public func scrape(
        url: String, infoHashes: [InfoHash], completion: @escaping (Result<[ScrapeCounts], UDPTrackerError>) -> Void
    ) {
        send(url, { .scrapeRequest(connectionID: $0, transaction: $1, infoHashes: infoHashes) }) { reply in
            guard case .scrapeResponse(_, let counts) = reply else { return nil }
            return counts.map { ScrapeCounts(seeders: Int($0.seeders), leechers: Int($0.leechers), completed: Int($0.completed)) }
        } completion: { completion($0) }
    }

    /// Gets a connection id, sends the packet `make(connectionID, transaction)` builds, and hands
    /// the answer to `interpret` (nil: the wrong kind of packet). Error packets become `.tracker`.
    private func send<T>(
        _ url: String, _ make: @escaping (UInt64, UInt32) -> UDPTrackerPacket,
        interpret: @escaping (UDPTrackerPacket) -> T?, completion: @escaping (Result<T, UDPTrackerError>) -> Void
    ) {
        withConnection(url) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let (address, connectionID)):
                let transaction = UInt32.random(in: 0...UInt32.max, using: &self.random)
                self.exchange(make(connectionID, transaction), with: address) { reply in
                    switch reply {
                    case .success(.error(_, let message)): completion(.failure(.tracker(message)))
                    case .success(let packet): completion(interpret(packet).map { .success($0) } ?? .failure(.unexpectedResponse))
                    case .failure(let error): completion(.failure(error))
                    }
                }
            }
        }
    }

    /// A connection id for the tracker at `url` (cached for 60 s) and its address.
    private func withConnection(
        _ url: String, _ completion: @escaping (Result<(SocketAddress, UInt64), UDPTrackerError>) -> Void
    ) {
        guard let (host, port) = Self.parse(url) else {
            loop.schedule(after: .zero) { completion(.failure(.invalidURL(url))) }
            return
        }
        resolver.resolve(host, port: port) { [weak self] result in
            guard let self else { return }
            guard case .success(let addresses) = result, let address = addresses.first else {
                if case .failure(let error) = result { completion(.failure(.unresolved(error.description))) }
                else { completion(.failure(.unresolved("\(host) has no address"))) }
                return
            }
            if let cached = self.connectionIDs[address], self.loop.now - cached.obtained < UDPTrackerSchedule.connectionIDLifetime {
                completion(.success((address, cached.id)))
                return
            }
            let transaction = UInt32.random(in: 0...UInt32.max, using: &self.random)
            self.exchange(.connectRequest(transaction: transaction), with: address) { reply in
                switch reply {
                case .success(.connectResponse(_, let id)):
                    self.connectionIDs[address] = (id, self.loop.now)
                    completion(.success((address, id)))
                case .success(.error(_, let message)): completion(.failure(.tracker(message)))
                case .success: completion(.failure(.unexpectedResponse))
                case .failure(let error): completion(.failure(error))
                }
            }
        }
    }

    /// Sends `packet` until an answer with its transaction id arrives or the schedule runs out.
    private func exchange(
        _ packet: UDPTrackerPacket, with address: SocketAddress, attempt: Int = 0,
        completion: @escaping (Result<UDPTrackerPacket, UDPTrackerError>) -> Void
    ) {
        guard let timeout = UDPTrackerSchedule.timeout(attempt: attempt, base: baseTimeout) else {
            pending[packet.transaction] = nil
            completion(.failure(.timedOut(attempts: attempt)))
            return
        }
        guard let socket = service(ipv6: address.isIPv6) else {
            completion(.failure(.unresolved("cannot open a UDP socket")))
            return
        }
        let timer = loop.schedule(after: timeout) { [weak self] in
            self?.exchange(packet, with: address, attempt: attempt + 1, completion: completion)
        }
        pending[packet.transaction] = { [weak self] reply in
            timer.cancel()
            self?.pending[packet.transaction] = nil
            completion(.success(reply))
        }
        datagramsSent += 1
        socket.send(packet.encoded(), to: address)
    }

    private func service(ipv6: Bool) -> UDPService? {
        if let existing = services[ipv6] { return existing }
        let service: UDPService
        if let shared = sharedService?(ipv6) {
            service = shared
        } else {
            let any = SocketAddress(host: ipv6 ? "::" : "0.0.0.0", port: 0)!
            guard let own = try? UDPService(loop: loop, address: any) else { return nil }
            service = own
        }
        service.register(.trackerReply) { [weak self] bytes, _ in
            guard let reply = UDPTrackerPacket.decodeResponse(bytes, ipv6: ipv6) else { return }
            self?.pending[reply.transaction]?(reply)
        }
        services[ipv6] = service
        return service
    }

    /// `udp://host:port[/anything]` → (host, port).
    static func parse(_ url: String) -> (String, UInt16)? {
        guard url.lowercased().hasPrefix("udp://") else { return nil }
        var rest = url.dropFirst("udp://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let host = rest[rest.index(after: rest.startIndex)..<close]
            guard rest[close...].hasPrefix("]:"), let port = UInt16(rest[rest.index(close, offsetBy: 2)...]) else { return nil }
            return (String(host), port)
        }
        guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]), port > 0 else { return nil }
        return (String(rest[..<colon]), port)
    }
}

@available(*, unavailable)
extension UDPTrackerClient: Sendable {}
