import Reactor
import TorrentCore

/// The tracker services a session shares across its torrents: one HTTP(S) client, one UDP
/// tracker client with its resolver, and, if started, the embedded tracker every torrent is
/// registered with (so a seed plus any client holding the .torrent is a working swarm).
final class SessionTrackers {
    /// Announces over HTTP(S).
    let http: HTTPClient
    /// Announces over UDP (BEP 15).
    let udp: UDPTrackerClient
    private unowned let loop: EventLoop
    private(set) var embedded: EmbeddedTracker?
    /// The address the embedded tracker gives out for this session's peers.
    private var announceHost = "127.0.0.1"
    /// The UDP service on the session's peer port, once it listens.
    private(set) var udpService: UDPService?
    /// The pace of every torrent's announces.
    let pace: AnnounceScheduler

    init(loop: EventLoop, limits: AnnounceThrottle.Limits) {
        self.loop = loop
        pace = AnnounceScheduler(scheduler: loop, limits: limits)
        http = HTTPClient.forTrackers(loop: loop)
        udp = UDPTrackerClient(loop: loop, resolver: Resolver(loop: loop))
    }

    /// Opens the UDP service on the peer port (the port DHT and uTP will answer on too); UDP
    /// trackers are then announced to from it. If the port is taken for UDP, announces go out from
    /// an ephemeral port and `false` comes back.
    func openUDP(on address: SocketAddress) -> Bool {
        guard let service = try? UDPService(loop: loop, address: address) else { return false }
        udpService = service
        let family = address.isIPv6
        udp.sharedService = { [weak self] ipv6 in ipv6 == family ? self?.udpService : nil }
        return true
    }

    /// Seeds for the announcers' generators, drawn from the system once.
    private var seeds = SplitMix64(seed: .random(in: .min ... .max))

    /// An announcer for one torrent to `tiers`.
    func announcer(
        tiers: [[String]], infoHash: InfoHash, peerID: [UInt8], port: UInt16, log: Log,
        totals: @escaping () -> (uploaded: Int64, downloaded: Int64, left: Int64)
    ) -> TrackerAnnouncer {
        TrackerAnnouncer(
            loop: loop, http: http, udp: udp, pace: pace, tiers: tiers, infoHash: infoHash, peerID: peerID, port: port, log: log,
            seed: seeds.next(), totals: totals)
    }

    /// Starts the embedded tracker on `address`; returns its announce URL as others reach it at
    /// `host`.
    func startEmbedded(on address: SocketAddress, host: String, log: Log) throws(SystemError) -> String {
        let tracker = try EmbeddedTracker(loop: loop, address: address, allowed: [], log: log)
        embedded = tracker
        announceHost = host
        return tracker.announceURL(host: host)
    }

    /// Lets `infoHash` be announced on the embedded tracker and lists this session as a seed of it.
    func register(_ infoHash: InfoHash, peerID: [UInt8], port: UInt16) {
        guard let embedded else { return }
        embedded.allow(infoHash)
        embedded.register(
            infoHash, peerID: peerID, peer: TrackerPeer(ip: SocketAddress(host: announceHost, port: 0)?.ip ?? [127, 0, 0, 1], port: port))
    }

    /// Closes the embedded tracker.
    func close() {
        embedded?.close()
        embedded = nil
    }
}

@available(*, unavailable)
extension SessionTrackers: Sendable {}
