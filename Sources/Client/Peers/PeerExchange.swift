import Reactor
import TorrentCore

// Peer exchange (BEP 11): each public torrent tells its peers, at most once a minute each, whom
// else it is connected to, and takes the peers they name into its peer list.

extension Torrent {
    /// Peers named to others at most (a list of a torrent with 18,000 peers is not sent whole).
    static let pexSample = 100

    /// Whether this torrent exchanges peers: not private (BEP 27), and the session allows it.
    var exchangesPeers: Bool { !metainfo.info.isPrivate && session.options.pexEnabled }

    /// Sends each peer that speaks ut_pex and is due what changed since its last message.
    func exchangePeers(now: ContinuousClock.Instant) {
        var entries: [PexMessage.Entry]?
        for peer in peers.values where peer.speaks("ut_pex") && peer.pex.isDue(now: now) {
            if entries == nil { entries = pexEntries() }
            peer.sendPex(entries!.filter { $0.peer.ip != peer.remote.ip || $0.peer.port != peer.pexAddress?.port }, now: now)
        }
    }

    /// What the peers we are connected to are, for PEX: those that listen (dialled, or
    /// connected in and told their port), flagged as seeds and as reachable when dialled.
    private func pexEntries() -> [PexMessage.Entry] {
        var entries: [PexMessage.Entry] = []
        for peer in peers.values.sorted(by: { $0.key < $1.key }) {
            guard let address = peer.pexAddress else { continue }
            var flags: PexMessage.Flags = []
            if peer.progress >= 1 { flags.insert(.seed) }
            if peer.outgoingTorrent != nil { flags.insert(.reachable) }
            if peer.isEncrypted { flags.insert(.encryption) }
            entries.append(PexMessage.Entry(TrackerPeer(ip: address.ip, port: address.port), flags: flags))
            if entries.count == Self.pexSample { break }
        }
        return entries
    }
}

extension PeerConnection {
    /// Sends a PEX message if anything changed for this peer.
    func sendPex(_ entries: [PexMessage.Entry], now: ContinuousClock.Instant) {
        guard let message = pex.message(current: entries, now: now) else { return }
        sendExtension("ut_pex", payload: message.encoded())
    }
}

extension Session {
    /// A ut_pex message: the peers it adds go into the torrent's peer list (at most
    /// `PexMessage.maxEntries` each time, at most once every 45 s per peer; the list's own cap
    /// holds). A private torrent takes none; a malformed message drops the peer.
    func receivePex(_ torrent: Torrent, _ peer: PeerConnection, _ payload: [UInt8]) {
        guard torrent.exchangesPeers else { return }
        let message: PexMessage
        do { message = try PexMessage(decoding: payload) } catch {
            return peer.drop(.protocolViolation("malformed ut_pex message: \(error)"))
        }
        guard peer.pex.accept(now: loop.now) else { return }
        let own = listenAddress
        let addresses = message.added.compactMap { entry -> SocketAddress? in
            guard let address = SocketAddress(ip: entry.peer.ip, port: entry.peer.port) else { return nil }
            return address == own ? nil : address
        }
        guard !addresses.isEmpty else { return }
        if log.enabled(.debug) { log.debug("pex_received", [("peer", peer.remote), ("added", addresses.count), ("dropped", message.dropped.count)]) }
        stats.pexPeersReceived += addresses.count
        torrent.addPeers(addresses, from: .pex)
    }
}
