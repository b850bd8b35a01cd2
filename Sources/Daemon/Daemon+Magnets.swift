import Client
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// A magnet link added to the daemon whose metadata is not in yet. It has its id, place in the
/// queue and record from the start; the RPC lists it as downloading with
/// `metadataPercentComplete` below 1 (or stopped, when paused). Once the metadata arrives it
/// becomes a `DaemonTorrent` with the same id, its peers and trackers handed over.
final class DaemonMagnet {
    let id: Int
    let link: MagnetLink
    var record: ConfigDirectory.Record
    var queuePosition = 0
    /// The fetch, while running (nil: paused, or failed).
    var fetch: MetadataFetch?
    /// Why the fetched metadata could not be used.
    var error: String?
    /// torrent-add's file arguments, applied once the files are known.
    var files: [(String, JSON)]

    init(id: Int, link: MagnetLink, record: ConfigDirectory.Record, files: [(String, JSON)]) {
        self.id = id
        self.link = link
        self.record = record
        self.files = files
    }

    /// The name shown: the link's `dn`, else the info hash.
    var name: String { link.displayName ?? link.infoHash.hex }
}

extension ConfigDirectory {
    /// Keeps a magnet whose metadata is not in yet: `torrents/<infohash>.magnet` (the link) and
    /// its record.
    func saveMagnet(_ link: MagnetLink, _ record: Record) throws(SystemError) {
        try FileContents.writeAtomically(Array(link.uri.utf8), to: "\(torrents)/\(link.infoHash.hex).magnet")
        try saveRecord(record, for: link.infoHash)
    }

    /// The magnet's file goes (its metadata arrived, or it was removed).
    func forgetMagnet(_ infoHash: InfoHash) { try? FileContents.remove("\(torrents)/\(infoHash.hex).magnet") }

    /// Every magnet kept here still waiting for its metadata (one whose .torrent is there too
    /// got it before a crash: the .torrent wins), oldest first.
    func loadMagnets(_ files: ConfigFiles, skipped: (String, String) -> Void) -> [(MagnetLink, Record)] {
        let names = files.names(in: .torrents).filter { $0.hasSuffix(".magnet") }
        var kept: [(MagnetLink, Record)] = []
        for name in names {
            let base = String(name.dropLast(".magnet".count))
            if files.exists(.torrents, base + ".torrent") {
                try? FileContents.remove("\(torrents)/\(name)")
                continue
            }
            guard let text = try? files.read(.torrents, name, limit: 64 << 10),
                let link = try? MagnetLink(parsing: String(decoding: text, as: UTF8.self))
            else {
                skipped(name, "not a magnet link")
                continue
            }
            let recordBytes = try? files.read(.torrents, base + ".json", limit: 1 << 20)
            guard let record = recordBytes.flatMap({ try? JSON(parsing: $0) }).flatMap(Record.init(json:)) else {
                skipped(name, "its record \(base).json is missing or broken")
                continue
            }
            kept.append((link, record))
        }
        return kept.sorted { $0.1.addedDate < $1.1.addedDate }
    }
}

extension Daemon {
    /// torrent-add with a magnet link: it is kept in the config directory and its metadata
    /// fetched (unless paused); it answers at once, the torrent being listed meanwhile.
    func addMagnet(_ text: String, directory: String, paused: Bool, labels: [String], files: Arguments) -> Result<Arguments, RPCFailure> {
        let link: MagnetLink
        do { link = try MagnetLink(parsing: text) } catch { return .failure(RPCFailure(.invalidParams, "invalid magnet link: \(error)")) }
        let summary = { (id: Int, name: String) -> JSON in
            .object([("id", .integer(Int64(id))), ("name", .string(name)), ("hash_string", .string(link.infoHash.hex))])
        }
        if let id = ids[link.infoHash] {
            return .success([("torrent_duplicate", summary(id, torrents[id]?.name ?? magnets[id]?.name ?? ""))])
        }
        let record = ConfigDirectory.Record(downloadDirectory: directory, addedDate: Int64(time(nil)), paused: paused, labels: labels)
        let config = self.config
        inBackground("torrent_save_failed", link.infoHash.hex) { () throws(SystemError) in try config.saveMagnet(link, record) }
        let entry = attachMagnet(link, record: record, files: files)
        log.info("magnet_added", [("torrent", entry.name), ("id", entry.id)])
        return .success([("torrent_added", summary(entry.id, entry.name))])
    }

    /// Lists a magnet and starts its fetch unless it is paused.
    func attachMagnet(_ link: MagnetLink, record: ConfigDirectory.Record, files: Arguments = []) -> DaemonMagnet {
        let entry = DaemonMagnet(id: takeID(), link: link, record: record, files: files)
        entry.queuePosition = torrents.count + magnets.count
        magnets[entry.id] = entry
        ids[link.infoHash] = entry.id
        if !record.paused { startFetch(entry) }
        return entry
    }

    func startFetch(_ entry: DaemonMagnet) {
        guard entry.fetch == nil else { return }
        entry.error = nil
        let fetch = session.fetchMetadata(entry.link)
        entry.fetch = fetch
        fetch.finished = { [weak self, weak entry] result in
            guard let self, let entry, self.magnets[entry.id] === entry else { return }
            self.fetched(entry, result)
        }
    }

    func stopFetch(_ entry: DaemonMagnet) {
        guard entry.fetch != nil else { return }
        entry.fetch = nil
        session.cancelFetch(entry.link.infoHash)
    }

    /// The metadata arrived: the .torrent is kept, and the magnet becomes a torrent with the same
    /// id that takes the fetch's peers over.
    private func fetched(_ entry: DaemonMagnet, _ result: Result<(metainfo: Metainfo, file: [UInt8]), LoadError>) {
        guard case .success(let (metainfo, file)) = result, let fetch = entry.fetch else {
            if case .failure(let error) = result { entry.error = "the metadata peers sent is not a usable torrent: \(error)" }
            stopFetch(entry)
            return
        }
        let location = ContentLocation(metainfo: metainfo, directory: entry.record.downloadDirectory)
        if let other = collision(location) {
            entry.error = "its files would overwrite those of torrent \(other.id) (\(other.torrent.metainfo.info.name)): remove it and add it with another download-dir"
            stopFetch(entry)
            return
        }
        magnets.removeValue(forKey: entry.id)
        entry.fetch = nil
        let config = self.config, record = entry.record, infoHash = metainfo.infoHash
        inBackground("torrent_save_failed", metainfo.info.name) { () throws(SystemError) in
            try config.save(file, record, for: infoHash)
            config.forgetMagnet(infoHash)
        }
        // A fresh magnet has nothing on disk: no check, and the fetch's connections go on. Data
        // already there is trusted from its resume file, or checked (its peers then come back
        // once the check is done).
        let have: Bitfield?
        switch config.resume.verdict(metainfo, location: location) {
        case .trusted(let pieces): have = pieces
        default:
            let anyOnDisk = location.paths.contains { ((try? FileStatus.of($0)) ?? nil) != nil }
            have = anyOnDisk ? nil : Bitfield(count: metainfo.info.pieceCount)
        }
        let torrent = session.add(metainfo, location: location, have: have, options: torrentOptions(), handingOver: fetch)
        let promoted = attach(metainfo, record: record, torrent: torrent, id: entry.id)
        promoted.queuePosition = entry.queuePosition
        log.info("metadata_fetched", [("torrent", metainfo.info.name), ("id", entry.id)])
        if !entry.files.isEmpty, case .failure(let failure) = torrentSet(.object([("ids", .array([.integer(Int64(entry.id))]))] + entry.files)) {
            log.warn("torrent_set_failed", [("torrent", metainfo.info.name), ("reason", failure.message)])
        }
    }

    /// Takes a magnet out (its fetch stops; its files in the config directory go).
    func remove(_ entry: DaemonMagnet) {
        stopFetch(entry)
        magnets.removeValue(forKey: entry.id)
        ids.removeValue(forKey: entry.link.infoHash)
        for other in torrents.values where other.queuePosition > entry.queuePosition { other.queuePosition -= 1 }
        for other in magnets.values where other.queuePosition > entry.queuePosition { other.queuePosition -= 1 }
        removed.append((entry.id, loop.now))
        let config = self.config, infoHash = entry.link.infoHash
        inBackground("torrent_forget_failed", entry.name) {
            config.forgetMagnet(infoHash)
            config.forget(infoHash)
        }
    }

    /// Pauses or resumes a magnet's fetch, and records it.
    func setPaused(_ entry: DaemonMagnet, _ paused: Bool) {
        if paused { stopFetch(entry) } else { startFetch(entry) }
        entry.record.paused = paused
        let config = self.config, record = entry.record, infoHash = entry.link.infoHash
        inBackground("record_save_failed", entry.name) { () throws(SystemError) in try config.saveRecord(record, for: infoHash) }
    }

    /// The magnets `ids` names (as `selected` does for torrents).
    func selectedMagnets(_ arguments: JSON) -> [DaemonMagnet] {
        guard !magnets.isEmpty else { return [] }
        guard let ids = arguments["ids"], ids.stringValue != "recently_active" else { return magnets.values.sorted { $0.id < $1.id } }
        return (ids.arrayValue ?? [ids]).compactMap { id in
            if let number = id.integerValue { return magnets[Int(clamping: number)] }
            if let text = id.stringValue, let hash = InfoHash(text: text), let number = self.ids[hash] { return magnets[number] }
            return nil
        }
    }
}

extension TorrentFields {
    /// A field of a magnet whose metadata is not in yet: no size, no files; its status is
    /// downloading while the fetch runs (stopped when paused or failed), `metadataPercentComplete`
    /// shows the pieces fetched, and the peers count those connected to fetch from.
    static func value(_ field: Field, of magnet: DaemonMagnet) -> JSON {
        let link = magnet.link
        let progress = magnet.fetch?.progress ?? (0, 0)
        switch field {
        case .id: return .integer(Int64(magnet.id))
        case .name: return .string(magnet.name)
        case .hash_string: return .string(link.infoHash.hex)
        case .total_size, .size_when_done, .left_until_done, .have_valid, .have_unchecked, .corrupt_ever, .desired_available:
            return .integer(0)
        case .percent_done, .percent_complete, .recheck_progress: return .integer(0)
        case .metadata_percent_complete: return .double(progress.1 > 0 ? Double(progress.0) / Double(progress.1) : 0)
        case .status: return .integer((magnet.fetch == nil ? Status.stopped : Status.downloading).rawValue)
        case .is_finished, .is_stalled, .is_private, .honors_session_limits, .download_limited, .upload_limited: return .bool(false)
        case .rate_upload, .rate_download, .uploaded_ever, .downloaded_ever: return .integer(0)
        case .upload_ratio, .eta: return .integer(-1)
        case .error: return .integer(magnet.error == nil ? 0 : 3)
        case .error_string: return .string(magnet.error ?? "")
        case .download_dir: return .string(magnet.record.downloadDirectory)
        case .added_date, .activity_date, .start_date: return .integer(magnet.record.addedDate)
        case .date_created, .done_date, .manual_announce_time, .edit_date, .seconds_downloading, .seconds_seeding: return .integer(0)
        case .peers_connected, .peers_sending_to_us: return .integer(Int64(magnet.fetch?.peerCount ?? 0))
        case .peers_getting_from_us, .webseeds_sending_to_us, .piece_count, .piece_size, .file_count: return .integer(0)
        case .magnet_link: return .string(link.uri)
        case .comment, .creator: return .string("")
        case .labels: return .array(magnet.record.labels.map(JSON.string))
        case .files, .file_stats, .priorities, .wanted, .trackers, .tracker_stats, .webseeds, .peers: return .array([])
        case .bandwidth_priority, .seed_ratio_mode, .seed_idle_mode: return .integer(0)
        case .queue_position: return .integer(Int64(magnet.queuePosition))
        case .seed_ratio_limit: return .double(2)
        case .seed_idle_limit: return .integer(30)
        case .download_limit, .upload_limit: return .integer(100)
        case .peer_limit, .max_connected_peers: return .integer(Int64(MetadataFetch.maxConnections))
        case .tracker_list: return .string(link.trackers.joined(separator: "\n\n"))
        }
    }
}
