import Client
import Prometheus
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// `/metrics` in the Prometheus text format (swift-prometheus renders it). Names follow
/// Prometheus' guide: the `evtorrent_` prefix, base units, `_total` on counters; the standard
/// `process_*` series too. The engine's totals (`SessionStats`) are mirrored at each scrape, so
/// nothing on the payload path touches a metric; the reactor's lag is measured by a 100 ms timer.
final class DaemonMetrics {
    let registry = PrometheusCollectorRegistry()
    private unowned let daemon: Daemon
    private var mirrored: [String: Int64] = [:]
    private var cpuReported = 0.0
    private var counters: [String: Counter] = [:]
    private let lag: DurationHistogram
    private let rpcDuration: DurationHistogram
    private var diskDuration: [DiskOperation: DurationHistogram] = [:]
    /// The per-torrent series shown now, by info hash (at most `torrentLimit` torrents).
    private var torrentSeries: [InfoHash: [Counter]] = [:]
    private var torrentGauges: [InfoHash: [Gauge]] = [:]
    private var expectedTick: ContinuousClock.Instant?
    private static let lagInterval: Duration = .milliseconds(100)

    init(daemon: Daemon) {
        self.daemon = daemon
        lag = registry.makeDurationHistogram(
            name: "evtorrent_reactor_lag_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1)],
            help: "How late the event loop ran a timer: the health of the one-thread engine")
        rpcDuration = registry.makeDurationHistogram(
            name: "evtorrent_rpc_request_duration_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500)],
            help: "Time from an RPC request's arrival to its answer")
        for operation in [DiskOperation.read, .write] {
            diskDuration[operation] = registry.makeDurationHistogram(
                name: "evtorrent_disk_operation_duration_seconds", labels: [("operation", operation.rawValue)],
                buckets: [.microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
                          .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5)],
                help: "Time from a disk read or write's request to its result, queueing included")
        }
        daemon.session.diskLatencyObserved = { [weak self] operation, duration in self?.diskDuration[operation]?.record(duration) }
        daemon.loop.scheduleRepeating(every: Self.lagInterval) { [weak self] in self?.measureLag() }
    }

    private func measureLag() {
        let now = daemon.loop.now
        if let expected = expectedTick { lag.record(max(.zero, now - expected)) }
        expectedTick = now + Self.lagInterval
    }

    /// Counts one RPC call of `method` that took `duration`.
    func rpcAnswered(_ method: String, after duration: Duration) {
        counter("evtorrent_rpc_requests_total", [("method", method)], help: "RPC requests answered, by method").increment()
        rpcDuration.record(duration)
    }

    /// The exposition text, with every mirrored value brought up to date.
    func render() -> [UInt8] {
        let stats = daemon.session.stats
        mirror("evtorrent_payload_uploaded_bytes_total", [], stats.uploadedBytes, help: "Payload bytes sent to peers")
        mirror("evtorrent_payload_downloaded_bytes_total", [], stats.downloadedBytes, help: "Payload bytes accepted into verified pieces")
        mirror("evtorrent_connections_accepted_total", [], Int64(stats.connectionsAccepted), help: "Incoming peer connections accepted")
        mirror("evtorrent_connections_refused_total", [("reason", "per_address_limit")], Int64(stats.refusedPerAddress), help: "Peer connections refused, by reason")
        mirror("evtorrent_connections_refused_total", [("reason", "blocklist")], Int64(stats.refusedBlocklisted), help: "Peer connections refused, by reason")
        mirror("evtorrent_connection_attempts_total", [], Int64(stats.dialAttempts), help: "Outgoing peer connection attempts")
        mirror("evtorrent_connection_failures_total", [], Int64(stats.dialFailures), help: "Outgoing attempts that failed before a handshake")
        mirror("evtorrent_hash_failures_total", [], Int64(stats.hashFailures), help: "Pieces that failed their hash check")
        for (reason, count) in stats.peersDropped {
            mirror("evtorrent_peers_dropped_total", [("reason", reason)], Int64(count), help: "Peers dropped, by reason")
        }
        mirror("evtorrent_peer_wire_sent_bytes_total", [], stats.wireUploadedBytes, help: "Bytes sent to peers, payload and protocol")
        mirror("evtorrent_peer_wire_received_bytes_total", [], stats.wireDownloadedBytes, help: "Bytes received from peers, payload and protocol")
        let disk = daemon.session.diskStats
        mirror("evtorrent_disk_operations_total", [("operation", "read")], Int64(disk.reads), help: "Disk reads (blocks not in the page cache) and writes (pieces)")
        mirror("evtorrent_disk_operations_total", [("operation", "write")], Int64(disk.writes), help: "Disk reads (blocks not in the page cache) and writes (pieces)")
        mirror("evtorrent_disk_bytes_total", [("operation", "read")], disk.readBytes, help: "Bytes read from and written to disk by those operations")
        mirror("evtorrent_disk_bytes_total", [("operation", "write")], disk.writtenBytes, help: "Bytes read from and written to disk by those operations")
        let announces = daemon.session.announceOutcomes
        for (outcome, count) in [("answered", announces.answered), ("failed", announces.failed), ("deferred", announces.deferred)] {
            mirror("evtorrent_announces_total", [("outcome", outcome)], Int64(count),
                   help: "Tracker announces, by outcome: answered, failed (unreachable, timed out, 5xx), deferred (host backing off)")
        }
        gauge("evtorrent_peers_waiting_on_disk", [], help: "Peers whose next block waits for a disk read").set(to: Double(daemon.session.peersWaitingOnDisk))
        var states: [String: Int] = ["stopped": 0, "checking": 0, "downloading": 0, "seeding": 0]
        for entry in daemon.torrents.values {
            switch TorrentFields.status(entry) {
            case .stopped: states["stopped", default: 0] += 1
            case .checking, .checkWait: states["checking", default: 0] += 1
            case .downloading, .downloadWait: states["downloading", default: 0] += 1
            case .seeding, .seedWait: states["seeding", default: 0] += 1
            }
        }
        for (state, count) in states {
            gauge("evtorrent_torrents", [("state", state)], help: "Torrents, by state").set(to: Double(count))
        }
        let status = daemon.session.status
        gauge("evtorrent_peers_connected", [], help: "Peers past the handshake").set(to: Double(status.peers))
        gauge("evtorrent_connections_open", [], help: "Open peer connections, handshaken or not").set(to: Double(daemon.session.connectionCount))
        gauge("evtorrent_upload_rate_bytes_per_second", [], help: "Payload upload rate").set(to: Double(status.uploadRate))
        gauge("evtorrent_download_rate_bytes_per_second", [], help: "Payload download rate").set(to: Double(status.downloadRate))
        torrentSeriesUpdate(limit: max(0, daemon.settings.integer("metrics-torrent-limit")))
        processSeries()
        return registry.emitToBuffer()
    }

    // MARK: - Per torrent

    /// Series for the `limit` busiest torrents (by rate, then peers) among those with peers or
    /// work; a torrent that drops out of them loses its series, so the label set stays bounded
    /// however many torrents there are.
    private func torrentSeriesUpdate(limit: Int) {
        let busiest = daemon.session.activeTorrents
            .sorted { ($0.uploadRate + $0.downloadRate, $0.peerCount) > ($1.uploadRate + $1.downloadRate, $1.peerCount) }
            .prefix(limit)
        let shown = Set(busiest.map(\.metainfo.infoHash))
        for (hash, series) in torrentSeries where !shown.contains(hash) {
            for counter in series { registry.unregisterCounter(counter) }
            for gauge in torrentGauges[hash] ?? [] { registry.unregisterGauge(gauge) }
            torrentSeries.removeValue(forKey: hash)
            torrentGauges.removeValue(forKey: hash)
            mirrored = mirrored.filter { !$0.key.contains("|infohash=\(hash.hex)") }
            counters = counters.filter { !$0.key.contains("|infohash=\(hash.hex)") }
        }
        for torrent in busiest {
            let hash = torrent.metainfo.infoHash
            let name = daemon.ids[hash].flatMap { daemon.torrents[$0]?.name } ?? torrent.metainfo.info.name
            let labels = [("infohash", hash.hex), ("name", name)]
            mirror("evtorrent_torrent_uploaded_bytes_total", labels, torrent.uploadedBytes, help: "Payload bytes sent, per torrent (the busiest only)")
            mirror("evtorrent_torrent_downloaded_bytes_total", labels, torrent.downloadedBytes, help: "Payload bytes received, per torrent (the busiest only)")
            let gauges = [
                gauge("evtorrent_torrent_peers", labels, help: "Peers connected, per torrent (the busiest only)"),
                gauge("evtorrent_torrent_upload_rate_bytes_per_second", labels, help: "Payload upload rate, per torrent (the busiest only)"),
                gauge("evtorrent_torrent_download_rate_bytes_per_second", labels, help: "Payload download rate, per torrent (the busiest only)"),
            ]
            gauges[0].set(to: Double(torrent.peerCount))
            gauges[1].set(to: Double(torrent.uploadRate))
            gauges[2].set(to: Double(torrent.downloadRate))
            torrentGauges[hash] = gauges
            torrentSeries[hash] = ["evtorrent_torrent_uploaded_bytes_total", "evtorrent_torrent_downloaded_bytes_total"].compactMap {
                counters[key($0, labels)]
            }
        }
    }

    // MARK: - process_*

    private func processSeries() {
        guard let usage = ProcessUsage.of(pid: getpid()) else { return }
        let cpu = counter("process_cpu_seconds_total", [], help: "User and system CPU time spent in seconds")
        cpu.increment(by: max(0, usage.cpuSeconds - cpuReported))
        cpuReported = max(cpuReported, usage.cpuSeconds)
        gauge("process_resident_memory_bytes", [], help: "Resident memory size in bytes").set(to: Double(usage.residentKiB) * 1024)
        if let descriptors = try? FileContents.list("/proc/self/fd") {
            gauge("process_open_fds", [], help: "Number of open file descriptors").set(to: Double(descriptors.count))
        }
    }

    // MARK: - Helpers

    private func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + labels.map { "|\($0.0)=\($0.1)" }.joined()
    }

    private func counter(_ name: String, _ labels: [(String, String)], help: String) -> Counter {
        let key = key(name, labels)
        if let existing = counters[key] { return existing }
        let made = registry.makeCounter(name: name, labels: labels, help: help)
        counters[key] = made
        return made
    }

    private func gauge(_ name: String, _ labels: [(String, String)], help: String) -> Gauge {
        registry.makeGauge(name: name, labels: labels, help: help)
    }

    /// Brings a counter up to an absolute total the engine keeps.
    private func mirror(_ name: String, _ labels: [(String, String)], _ total: Int64, help: String) {
        let key = key(name, labels)
        let delta = total - (mirrored[key] ?? 0)
        guard delta > 0 || mirrored[key] == nil else { return }
        mirrored[key] = total
        counter(name, labels, help: help).increment(by: delta)
    }
}

@available(*, unavailable)
extension DaemonMetrics: Sendable {}
