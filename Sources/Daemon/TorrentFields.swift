import Client

/// `torrent-get`'s fields, computed from the engine's state (rpc-spec §3.3), by canonical name.
/// The set covers what transmission-remote 3.00 (`-l`, `-i`, `-f`), the web clients and
/// Sonarr/Radarr read; a field not known here is left out, as Transmission does.
enum TorrentFields {
    /// Transmission's status codes.
    enum Status: Int64 {
        case stopped = 0, checkWait = 1, checking = 2, downloadWait = 3, downloading = 4, seedWait = 5, seeding = 6
    }

    static func status(_ entry: DaemonTorrent) -> Status {
        if entry.isQueued { return .downloadWait }
        let torrent = entry.torrent
        switch torrent.phase {
        case .stopped: return .stopped
        case .checking: return .checking
        case .running: return torrent.isDownloading ? .downloading : .seeding
        }
    }

    /// The fields it knows, by canonical name; a request's names are resolved once, not per torrent.
    enum Field: String, CaseIterable {
        case id
        case name
        case hash_string
        case total_size
        case size_when_done
        case left_until_done
        case have_valid
        case have_unchecked
        case corrupt_ever
        case desired_available
        case percent_done
        case percent_complete
        case metadata_percent_complete
        case status
        case recheck_progress
        case is_finished
        case is_stalled
        case rate_upload
        case rate_download
        case uploaded_ever
        case downloaded_ever
        case upload_ratio
        case eta
        case error
        case error_string
        case download_dir
        case added_date
        case activity_date
        case start_date
        case date_created
        case done_date
        case manual_announce_time
        case edit_date
        case seconds_downloading
        case seconds_seeding
        case peers_connected
        case peers_getting_from_us
        case peers_sending_to_us
        case webseeds_sending_to_us
        case piece_count
        case piece_size
        case is_private
        case magnet_link
        case comment
        case creator
        case labels
        case file_count
        case files
        case priorities
        case wanted
        case bandwidth_priority
        case queue_position
        case seed_ratio_mode
        case seed_idle_mode
        case seed_ratio_limit
        case seed_idle_limit
        case honors_session_limits
        case download_limit
        case upload_limit
        case download_limited
        case upload_limited
        case peer_limit
        case max_connected_peers
        case trackers
        case tracker_stats
        case webseeds
        case peers
        case tracker_list
        case file_stats
    }

    /// Bytes of each file in verified pieces.
    static func completedBytes(_ torrent: Torrent) -> [Int64] {
        let info = torrent.metainfo.info
        var completed = [Int64](repeating: 0, count: info.files.count)
        if torrent.have.isFull {
            for index in info.files.indices { completed[index] = info.files[index].length }
            return completed
        }
        for piece in 0..<info.pieceCount where torrent.have[PieceIndex(piece)] {
            for span in info.layout.spans(of: PieceIndex(piece)) { completed[span.file.value] += Int64(span.length) }
        }
        return completed
    }

    /// A torrent as a listing reads it: what the fields share, looked up once per torrent (once
    /// per field, the retains and releases were half the time of listing 2,000 torrents).
    struct Listed {
        let entry: DaemonTorrent
        let torrent: Torrent
        let info: TorrentInfo

        init(_ entry: DaemonTorrent) {
            self.entry = entry
            torrent = entry.torrent
            info = torrent.metainfo.info
        }
    }

    static func value(_ field: Field, of listed: Listed, daemon: Daemon) -> JSON {
        let (entry, torrent, info) = (listed.entry, listed.torrent, listed.info)
        switch field {
        case .id: return .integer(Int64(entry.id))
        case .name: return .string(entry.name)
        case .hash_string: return .string(torrent.metainfo.infoHash.hex)
        case .total_size: return .integer(info.totalLength)
        case .size_when_done: return .integer(torrent.wantedBytes.total)
        case .left_until_done: return .integer(torrent.wantedBytes.missing)
        case .have_valid: return .integer(torrent.verifiedBytes)
        case .have_unchecked, .corrupt_ever, .desired_available: return .integer(0)
        case .percent_complete:
            return .double(info.totalLength > 0 ? Double(torrent.verifiedBytes) / Double(info.totalLength) : 1)
        case .percent_done:
            let wanted = torrent.wantedBytes
            return .double(wanted.total > 0 ? Double(wanted.total - wanted.missing) / Double(wanted.total) : 1)
        case .metadata_percent_complete: return .integer(1)
        case .status: return .integer(status(entry).rawValue)
        case .recheck_progress:
            if case .checking(let done, let total) = torrent.phase { return .double(total > 0 ? Double(done) / Double(total) : 0) }
            return .integer(0)
        case .is_finished:
            if case .stopped(let reason) = torrent.phase { return .bool(reason != .requested) }
            return .bool(false)
        case .is_stalled: return .bool(false)
        case .rate_upload: return .integer(Int64(torrent.uploadRate))
        case .rate_download: return .integer(Int64(torrent.downloadRate))
        case .uploaded_ever: return .integer(torrent.uploadedBytes)
        case .downloaded_ever: return .integer(torrent.downloadedBytes)
        case .upload_ratio:
            // As Transmission: against what was downloaded, or what we had if nothing was.
            let base = torrent.downloadedBytes > 0 ? torrent.downloadedBytes : torrent.verifiedBytes
            return base > 0 ? .double(Double(torrent.uploadedBytes) / Double(base)) : .integer(-1)
        case .eta:
            guard torrent.isDownloading, torrent.downloadRate > 0 else { return .integer(-1) }
            return .integer(torrent.bytesMissing / Int64(torrent.downloadRate))
        case .error: return .integer(entry.error == nil && torrent.pausedReason == nil ? 0 : 3)
        case .error_string: return .string(entry.error ?? torrent.pausedReason ?? "")
        case .download_dir: return .string(entry.downloadDirectory)
        case .added_date, .activity_date, .start_date: return .integer(entry.addedDate)
        case .date_created: return .integer(torrent.metainfo.creationDate ?? 0)
        case .done_date, .manual_announce_time, .edit_date: return .integer(0)
        case .seconds_downloading, .seconds_seeding: return .integer(0)
        case .peers_connected: return .integer(Int64(torrent.peerCount))
        case .peers_getting_from_us: return .integer(Int64(torrent.unchokedCount))
        case .peers_sending_to_us: return .integer(torrent.downloadRate > 0 ? Int64(torrent.peerCount) : 0)
        case .webseeds_sending_to_us: return .integer(0)
        case .piece_count: return .integer(Int64(info.pieceCount))
        case .piece_size: return .integer(Int64(info.pieceLength))
        case .is_private: return .bool(info.isPrivate)
        case .magnet_link: return .string(torrent.metainfo.magnetLink.description)
        case .comment: return .string(torrent.metainfo.comment ?? "")
        case .creator: return .string(torrent.metainfo.createdBy ?? "")
        case .labels: return .array(entry.labels.map(JSON.string))
        case .file_count: return .integer(Int64(info.files.count))
        case .files:
            let completed = completedBytes(torrent)
            let names = entry.names ?? ContentLocation.names(of: torrent.metainfo)
            return .array(info.files.indices.map { index in
                .object([
                    ("name", .string(names[index])),
                    ("length", .integer(info.files[index].length)),
                    ("bytes_completed", .integer(completed[index])),
                ])
            })
        case .file_stats:
            let completed = completedBytes(torrent)
            return .array(info.files.indices.map { index in
                .object([
                    ("bytes_completed", .integer(completed[index])), ("wanted", .bool(entry.settings.wanted?[index] ?? true)),
                    ("priority", .integer(Int64(entry.settings.priorities?[index] ?? 0))),
                ])
            })
        case .priorities: return .array(info.files.indices.map { .integer(Int64(entry.settings.priorities?[$0] ?? 0)) })
        case .wanted: return .array(info.files.indices.map { .integer(entry.settings.wanted?[$0] == false ? 0 : 1) })
        case .bandwidth_priority: return .integer(Int64(entry.settings.bandwidthPriority))
        case .queue_position: return .integer(Int64(entry.queuePosition))
        case .seed_ratio_mode: return .integer(Int64(entry.settings.seedRatioMode))
        case .seed_idle_mode: return .integer(Int64(entry.settings.seedIdleMode))
        case .seed_ratio_limit: return .double(entry.settings.seedRatioLimit)
        case .seed_idle_limit: return .integer(Int64(entry.settings.seedIdleLimit))
        case .honors_session_limits: return .bool(entry.settings.honorsSessionLimits)
        case .download_limit: return .integer(Int64(entry.settings.downloadLimit))
        case .upload_limit: return .integer(Int64(entry.settings.uploadLimit))
        case .download_limited: return .bool(entry.settings.downloadLimited)
        case .upload_limited: return .bool(entry.settings.uploadLimited)
        case .peer_limit, .max_connected_peers: return .integer(Int64(torrent.peerLimit))
        case .trackers, .tracker_stats, .webseeds, .peers: return .array([])
        case .tracker_list: return .string(torrent.metainfo.trackerTiers.map { $0.joined(separator: "\n") }.joined(separator: "\n\n"))
        }
    }
}
