import Reactor
import TorrentCore

/// BEP 14 local service discovery: announces the session's public torrents (and the magnets it
/// fetches) to the local network's multicast groups, 239.192.152.143:6771 and
/// [ff15::efc0:988f]:6771, as `LSDSchedule` paces them, and hands the peers it hears of to their
/// torrents. Private torrents are never announced or taken (BEP 27).
final class LocalServiceDiscovery {
    private unowned let session: Session
    private var groups: [(socket: UDPSocket, group: SocketAddress, host: String)] = []
    private var schedule: LSDSchedule
    private var timer: TimerHandle?

    /// Joins whichever groups this host allows; nil (logged) if none.
    init?(session: Session, loop: EventLoop) {
        self.session = session
        var random = SystemRandomNumberGenerator()
        schedule = LSDSchedule(cookie: String(UInt64.random(in: 0...UInt64.max, using: &random), radix: 36))
        let wanted = [
            (SocketAddress(host: LSDAnnouncement.groupV4, port: LSDAnnouncement.port)!, "\(LSDAnnouncement.groupV4):\(LSDAnnouncement.port)"),
            (SocketAddress(host: LSDAnnouncement.groupV6, port: LSDAnnouncement.port)!, "[\(LSDAnnouncement.groupV6)]:\(LSDAnnouncement.port)"),
        ]
        for (group, host) in wanted {
            do {
                let socket = try UDPSocket(loop: loop, joining: group)
                socket.datagramArrived = { [unowned self] bytes, sender in self.arrived(bytes, from: sender) }
                groups.append((socket, group, host))
            } catch {
                session.log.info("lsd_unavailable", [("group", host), ("error", error)])
            }
        }
        guard !groups.isEmpty else { return nil }
        timer = loop.scheduleRepeating(every: .seconds(5)) { [weak self] in self?.tick() }
        loop.schedule(after: .milliseconds(200)) { [weak self] in self?.tick() }
    }

    /// Leaves the groups.
    func close() {
        timer?.cancel()
        timer = nil
        groups = []
    }

    private func tick() {
        let now = session.loop.now
        guard schedule.isPacketDue(now: now) else { return }
        guard let hashes = schedule.due(session.locallyAnnounced, now: now) else { return }
        let port = session.listenAddress.port
        for (socket, group, host) in groups {
            let packet = LSDAnnouncement(peerPort: port, infoHashes: hashes, cookie: schedule.cookie).encoded(host: host)
            socket.send(packet, to: group)
        }
    }

    private func arrived(_ bytes: [UInt8], from sender: SocketAddress) {
        guard let announcement = try? LSDAnnouncement(decoding: bytes) else { return }
        let fresh = schedule.heard(announcement, from: sender.host, now: session.loop.now)
        guard !fresh.isEmpty, let peer = SocketAddress(ip: sender.ip, port: announcement.peerPort) else { return }
        session.log.debug("lsd_heard", [("peer", peer), ("torrents", fresh.count)])
        for hash in fresh { session.foundLocally(hash, at: peer) }
    }
}

@available(*, unavailable)
extension LocalServiceDiscovery: Sendable {}
