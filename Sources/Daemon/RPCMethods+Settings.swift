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
            "idle_seeding_limit", "idle_seeding_limit_enabled", "seed_ratio_limit", "seed_ratio_limited", "peer_port",
        ]
        // settings.json spells two of them differently from the RPC.
        let fileKey = ["seed_ratio_limit": "ratio-limit", "seed_ratio_limited": "ratio-limit-enabled"]
        var changed = false
        for (key, value) in arguments.objectValue ?? [] where settable.contains(key) {
            settings[fileKey[key] ?? RPCNames.legacy(key)] = value
            changed = true
        }
        guard changed else { return .success([]) }
        do { try saveSettings() } catch { return .failure(RPCFailure(.internalError, "cannot write settings.json: \(error)")) }
        return .success([])
    }

    /// torrent-set: labels and seeding limits (Sonarr and Radarr set these after adding).
    func torrentSet(_ arguments: JSON) -> Result<Arguments, RPCFailure> {
        for entry in selected(arguments) {
            if let labels = arguments["labels"]?.arrayValue?.compactMap(\.stringValue) {
                entry.labels = labels
                saveRecord(entry)
            }
            var ratio = entry.torrent.options.seedRatioLimit
            var idle = entry.torrent.options.seedIdleLimit
            // Modes: 0 follow the session, 1 this torrent's limit, 2 unlimited.
            switch arguments["seed_ratio_mode"]?.integerValue {
            case 1?: ratio = arguments["seed_ratio_limit"]?.doubleValue ?? ratio
            case 2?: ratio = nil
            default: break
            }
            switch arguments["seed_idle_mode"]?.integerValue {
            case 1?: idle = arguments["seed_idle_limit"]?.integerValue.map { .seconds(60 * $0) } ?? idle
            case 2?: idle = nil
            default: break
            }
            session.setSeedLimits(entry.infoHash, ratio: ratio, idle: idle)
        }
        return .success([])
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
