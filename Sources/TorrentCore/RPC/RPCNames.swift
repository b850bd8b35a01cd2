/// One table of canonical names for the two dialects of the Transmission RPC (PROTOCOL-NOTES §1.2):
/// the legacy one spells names in kebab-case or camelCase (`torrent-get`, `hashString`,
/// `download-dir`), JSON-RPC 2.0 in snake_case (`torrent_get`, `hash_string`). Handlers see and
/// write snake_case only; requests are canonicalized on the way in, replies spelled back on the
/// way out.
public enum RPCNames {
    /// The snake_case form of a name in either spelling.
    public static func canonical(_ name: String) -> String {
        if let renamed = renamedIn41[name] { return renamed }
        var out = ""
        out.reserveCapacity(name.utf8.count + 4)
        let characters = Array(name)
        for (index, character) in characters.enumerated() {
            if character == "-" {
                out.append("_")
                continue
            }
            guard character.isUppercase else {
                out.append(character)
                continue
            }
            // A word starts at an upper-case letter after a lower-case one or a digit, or at the
            // last capital of an acronym followed by a lower-case letter (`isUTP`, `peerID`).
            if index > 0 {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && next?.isLowercase == true) {
                    out.append("_")
                }
            }
            out.append(contentsOf: character.lowercased())
        }
        return out
    }

    /// The legacy spelling of a canonical name (itself when the legacy dialect spells it so).
    public static func legacy(_ canonical: String) -> String { legacyByCanonical[canonical] ?? canonical }

    /// Names 4.1 renamed rather than respelled (rpc-spec: `cache-size-mb` became `cache_size_mib`).
    private static let renamedIn41 = ["cache-size-mb": "cache_size_mib"]

    /// Every legacy name whose spelling differs from its snake_case form: methods, arguments,
    /// torrent fields, session keys and the nested objects' keys (rpc-spec §3–§4, Transmission 3.00).
    static let legacyNames: [String] = [
        // Methods.
        "torrent-start", "torrent-start-now", "torrent-stop", "torrent-verify", "torrent-reannounce", "torrent-set",
        "torrent-get", "torrent-add", "torrent-remove", "torrent-set-location", "torrent-rename-path", "session-set",
        "session-get", "session-stats", "blocklist-update", "port-test", "session-close", "queue-move-top", "queue-move-up",
        "queue-move-down", "queue-move-bottom", "free-space", "group-set", "group-get",
        // Torrent fields.
        "activityDate", "addedDate", "bandwidthPriority", "corruptEver", "dateCreated", "desiredAvailable", "doneDate",
        "downloadDir", "downloadedEver", "downloadLimit", "downloadLimited", "editDate", "errorString", "etaIdle", "file-count",
        "fileStats", "hashString", "haveUnchecked", "haveValid", "honorsSessionLimits", "isFinished", "isPrivate", "isStalled",
        "leftUntilDone", "magnetLink", "manualAnnounceTime", "maxConnectedPeers", "metadataPercentComplete", "peer-limit",
        "peersConnected", "peersFrom", "peersGettingFromUs", "peersSendingToUs", "percentComplete", "percentDone", "pieceCount",
        "pieceSize", "primary-mime-type", "queuePosition", "rateDownload", "rateUpload", "recheckProgress", "secondsDownloading",
        "secondsSeeding", "seedIdleLimit", "seedIdleMode", "seedRatioLimit", "seedRatioMode", "sequentialDownload", "sizeWhenDone",
        "startDate", "trackerList", "trackerStats", "totalSize", "torrentFile", "uploadedEver", "uploadLimit", "uploadLimited",
        "uploadRatio", "webseedsSendingToUs", "bytesCompleted", "fileCount",
        // Tracker stats and peers.
        "announceState", "downloadCount", "hasAnnounced", "hasScraped", "isBackup", "lastAnnouncePeerCount",
        "lastAnnounceResult", "lastAnnounceStartTime", "lastAnnounceSucceeded", "lastAnnounceTime", "lastAnnounceTimedOut",
        "lastScrapeResult", "lastScrapeStartTime", "lastScrapeSucceeded", "lastScrapeTime", "lastScrapeTimedOut", "leecherCount",
        "nextAnnounceTime", "nextScrapeTime", "scrapeState", "seederCount", "clientIsChoked", "clientIsInterested", "clientName",
        "flagStr", "isDownloadingFrom", "isEncrypted", "isIncoming", "isUploadingTo", "isUTP", "peerIsChoked", "peerIsInterested",
        "rateToClient", "rateToPeer", "fromCache", "fromDht", "fromIncoming", "fromLpd", "fromLtep", "fromPex", "fromTracker",
        // torrent-add, torrent-set, torrent-remove.
        "download-dir", "files-wanted", "files-unwanted", "priority-high", "priority-low", "priority-normal", "trackerAdd",
        "trackerRemove", "trackerReplace", "delete-local-data", "torrent-added", "torrent-duplicate", "recently-active",
        // Sessions.
        "alt-speed-down", "alt-speed-enabled", "alt-speed-time-begin", "alt-speed-time-day", "alt-speed-time-enabled",
        "alt-speed-time-end", "alt-speed-up", "blocklist-enabled", "blocklist-size", "blocklist-url", "config-dir",
        "default-trackers", "dht-enabled", "download-dir-free-space", "download-queue-enabled", "download-queue-size",
        "idle-seeding-limit-enabled", "idle-seeding-limit", "incomplete-dir-enabled", "incomplete-dir", "lpd-enabled",
        "peer-limit-global", "peer-limit-per-torrent", "peer-port-random-on-start", "peer-port", "pex-enabled",
        "port-forwarding-enabled", "queue-stalled-enabled", "queue-stalled-minutes", "rename-partial-files",
        "rpc-version-minimum", "rpc-version-semver", "rpc-version", "script-torrent-added-enabled",
        "script-torrent-added-filename", "script-torrent-done-enabled", "script-torrent-done-filename",
        "script-torrent-done-seeding-enabled", "script-torrent-done-seeding-filename", "seed-queue-enabled", "seed-queue-size",
        "seedRatioLimited", "session-id", "speed-limit-down-enabled", "speed-limit-down", "speed-limit-up-enabled",
        "speed-limit-up", "start-added-torrents", "trash-original-torrent-files", "utp-enabled",
        "activeTorrentCount", "downloadSpeed", "pausedTorrentCount", "torrentCount", "uploadSpeed", "cumulative-stats",
        "current-stats", "uploadedBytes", "downloadedBytes", "filesAdded", "sessionCount", "secondsActive",
        "size-bytes", "port-is-open", "cache-size-mb", "speed-units", "speed-bytes", "size-units", "memory-units",
        "memory-bytes",
    ]

    /// Where two legacy names share a canonical one, the spelling used when the request did not
    /// name it (a torrent-get names its fields, and the reply echoes those spellings).
    private static let preferred = ["download_dir": "download-dir", "file_count": "file-count"]

    private static let legacyByCanonical: [String: String] = {
        var table: [String: String] = [:]
        for name in legacyNames { table[canonical(name)] = name }
        return table.merging(preferred) { _, preferred in preferred }
    }()
}
