import Client
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The RPC methods that change settings or ask about the box, beside the torrent ones.
extension Daemon {
    /// session-set: the keys are stored in settings.json under their legacy names (the file's
    /// spelling); limits for new torrents apply at once, ports and addresses at the next start.
    func sessionSet(_ arguments: JSON) -> Result<Arguments, RPCFailure> {
        let settable: Set = [
            "download_dir", "peer_limit_global", "peer_limit_per_torrent", "speed_limit_up", "speed_limit_up_enabled",
            "speed_limit_down", "speed_limit_down_enabled", "idle_seeding_limit", "idle_seeding_limit_enabled",
            "seed_ratio_limit", "seed_ratio_limited", "peer_port", "pex_enabled", "lpd_enabled", "download_queue_enabled",
            "download_queue_size", "blocklist_enabled", "blocklist_url",
        ]
        // settings.json spells two of them differently from the RPC.
        let fileKey = ["seed_ratio_limit": "ratio-limit", "seed_ratio_limited": "ratio-limit-enabled"]
        var changed: Set<String> = []
        // encryption: a name over the RPC, Transmission's number in settings.json.
        if let name = arguments["encryption"]?.stringValue {
            // `allowed` is Transmission 4.1's name for `tolerated`.
            guard let policy = EncryptionPolicy(rawValue: name == "allowed" ? "tolerated" : name) else {
                return .failure(RPCFailure(.invalidParams, "encryption must be tolerated (allowed), preferred or required, not \(name)"))
            }
            settings["encryption"] = .integer(Int64(policy.transmissionValue))
            session.setEncryption(policy)
            changed.insert("encryption")
        }
        for (key, value) in arguments.objectValue ?? [] where settable.contains(key) {
            settings[fileKey[key] ?? RPCNames.legacy(key)] = value
            changed.insert(key)
        }
        guard !changed.isEmpty else { return .success([]) }
        // What can change while running does, at once.
        if !changed.isDisjoint(with: ["speed_limit_up", "speed_limit_up_enabled", "speed_limit_down", "speed_limit_down_enabled"]) {
            let (upload, download) = Self.rateLimits(settings)
            session.setRateLimits(upload: upload, download: download)
        }
        if !changed.isDisjoint(with: ["peer_limit_global", "peer_limit_per_torrent"]) {
            session.setPeerLimits(
                global: min(settings.integer("peer-limit-global"), peerCapacity), perTorrent: settings.integer("peer-limit-per-torrent"))
        }
        if changed.contains("pex_enabled") { session.setPexEnabled(settings.bool("pex-enabled")) }
        if changed.contains("lpd_enabled") { session.setLSDEnabled(settings.bool("lpd-enabled")) }
        if changed.contains("blocklist_enabled") { loadBlocklists() }
        if !changed.isDisjoint(with: ["download_queue_enabled", "download_queue_size"]) { updateDownloadQueue() }
        if !changed.isDisjoint(with: ["idle_seeding_limit", "idle_seeding_limit_enabled", "seed_ratio_limit", "seed_ratio_limited"]) {
            for entry in torrents.values where entry.settings.seedRatioMode == 0 || entry.settings.seedIdleMode == 0 { apply(entry) }
        }
        do { try saveSettings() } catch { return .failure(RPCFailure(.internalError, "cannot write settings.json: \(error)")) }
        return .success([])
    }

    /// torrent-set: labels, seeding limits (Sonarr and Radarr set these after adding), its own
    /// speed and peer limits, files wanted and their priorities; kept in its record.
    func torrentSet(_ arguments: JSON) -> Result<Arguments, RPCFailure> {
        let entries = selected(arguments)
        for entry in entries {
            let fileCount = entry.torrent.metainfo.info.files.count
            // File indices out of range are refused before anything changes.
            for key in ["files_wanted", "files_unwanted", "priority_high", "priority_low", "priority_normal"] {
                guard let list = arguments[key]?.arrayValue else { continue }
                if let bad = list.first(where: { ($0.integerValue ?? -1) < 0 || ($0.integerValue ?? -1) >= Int64(fileCount) }) {
                    return .failure(RPCFailure(.invalidParams, "\(RPCNames.legacy(key)): no file \(bad.integerValue.map(String.init) ?? "\(bad)") in torrent \(entry.id) (it has \(fileCount))"))
                }
            }
        }
        for entry in entries {
            var settings = entry.settings
            let fileCount = entry.torrent.metainfo.info.files.count
            func files(_ key: String) -> [Int] { arguments[key]?.arrayValue?.compactMap { $0.integerValue.map(Int.init) } ?? [] }
            func integer(_ key: String) -> Int? { arguments[key]?.integerValue.map { Int(clamping: $0) } }
            if let labels = arguments["labels"]?.arrayValue?.compactMap(\.stringValue) { entry.labels = labels }
            if let value = integer("upload_limit") { settings.uploadLimit = max(0, value) }
            if let value = arguments["upload_limited"]?.boolValue { settings.uploadLimited = value }
            if let value = integer("download_limit") { settings.downloadLimit = max(0, value) }
            if let value = arguments["download_limited"]?.boolValue { settings.downloadLimited = value }
            if let value = integer("peer_limit") { settings.peerLimit = value > 0 ? value : nil }
            if let value = integer("bandwidth_priority") { settings.bandwidthPriority = max(-1, min(1, value)) }
            if let value = arguments["honors_session_limits"]?.boolValue { settings.honorsSessionLimits = value }
            if let value = integer("seed_ratio_mode") { settings.seedRatioMode = max(0, min(2, value)) }
            if let value = arguments["seed_ratio_limit"]?.doubleValue { settings.seedRatioLimit = max(0, value) }
            if let value = integer("seed_idle_mode") { settings.seedIdleMode = max(0, min(2, value)) }
            if let value = integer("seed_idle_limit") { settings.seedIdleLimit = max(0, value) }
            var wanted = settings.wanted ?? [Bool](repeating: true, count: fileCount)
            for index in files("files_wanted") { wanted[index] = true }
            for index in files("files_unwanted") { wanted[index] = false }
            settings.wanted = wanted.contains(false) ? wanted : nil
            var priorities = settings.priorities ?? [Int](repeating: 0, count: fileCount)
            for (key, level) in [("priority_high", 1), ("priority_low", -1), ("priority_normal", 0)] {
                for index in files(key) { priorities[index] = level }
            }
            settings.priorities = priorities.contains { $0 != 0 } ? priorities : nil
            entry.settings = settings
            apply(entry)
            saveRecord(entry)
        }
        return .success([])
    }

    /// Hands a torrent's settings to the engine: its caps, peer limit, seeding limits (its own,
    /// the session's or none) and which pieces to fetch.
    func apply(_ entry: DaemonTorrent) {
        let settings = entry.settings
        session.setTorrentLimits(
            entry.infoHash, upload: settings.uploadLimited ? settings.uploadLimit * 1000 : nil,
            download: settings.downloadLimited ? settings.downloadLimit * 1000 : nil, peers: settings.peerLimit)
        let session = torrentOptions()
        let ratio: Double? = [session.seedRatioLimit, settings.seedRatioLimit, nil][settings.seedRatioMode]
        let idle: Duration? = [session.seedIdleLimit, .seconds(60 * settings.seedIdleLimit), nil][settings.seedIdleMode]
        self.session.setSeedLimits(entry.infoHash, ratio: ratio, idle: idle)
        let pieces = settings.piecePriorities(entry.torrent.metainfo.info)
        if pieces != entry.torrent.options.download?.piecePriorities { self.session.setPiecePriorities(entry.infoHash, pieces) }
    }

    /// free-space: bytes available to an unprivileged user under `path`.
    func freeSpace(_ arguments: JSON) -> Result<Arguments, RPCFailure> {
        guard let path = arguments["path"]?.stringValue else { return .failure(RPCFailure(.invalidParams, "no path given")) }
        var status = statvfs()
        guard statvfs(path, &status) == 0 else {
            return .failure(RPCFailure(.invalidParams, "\(path): \(SystemError(errno: errno, operation: "statvfs", path: path))"))
        }
        let free = Int64(status.f_bavail) * Int64(status.f_frsize)
        let total = Int64(status.f_blocks) * Int64(status.f_frsize)
        return .success([("path", .string(path)), ("size_bytes", .integer(free)), ("total_capacity", .integer(total))])
    }
}
