import Client
import Reactor

/// The RPC's methods over the daemon's torrents. Requests arrive canonical (snake_case) and
/// replies are built canonical; `RPCReply` spells them in the client's dialect.
extension Daemon {
    typealias Arguments = [(String, JSON)]

    func perform(_ request: RPCRequest, completion: @escaping (Result<Arguments, RPCFailure>) -> Void) {
        let arguments = request.arguments
        switch request.method {
        case "session_get": completion(.success(sessionValues(fields: arguments["fields"], dialect: request.dialect)))
        case "session_stats": completion(.success(sessionStats()))
        case "torrent_get": completion(torrentGet(arguments, request))
        case "torrent_add": torrentAdd(arguments, completion: completion)
        case "torrent_start", "torrent_start_now":
            for entry in selected(arguments) {
                entry.isQueued = false
                entry.startedNow = request.method == "torrent_start_now"
                session.start(entry.infoHash)
                saveRecord(entry)
            }
            for magnet in selectedMagnets(arguments) { setPaused(magnet, false) }
            updateDownloadQueue()
            completion(.success([]))
        case "torrent_stop":
            for entry in selected(arguments) {
                entry.isQueued = false
                entry.startedNow = false
                session.stop(entry.infoHash)
                saveRecord(entry)
            }
            for magnet in selectedMagnets(arguments) { setPaused(magnet, true) }
            updateDownloadQueue()
            completion(.success([]))
        case "torrent_verify":
            for entry in selected(arguments) { session.verify(entry.infoHash) }
            completion(.success([]))
        case "torrent_remove":
            let deleteData = arguments["delete_local_data"]?.boolValue ?? false
            for entry in selected(arguments) { remove(entry, deleteData: deleteData) }
            for magnet in selectedMagnets(arguments) { remove(magnet) }
            updateDownloadQueue()
            completion(.success([]))
        case "session_set": completion(sessionSet(arguments))
        case "torrent_set": completion(torrentSet(arguments))
        case "free_space": completion(freeSpace(arguments))
        case "torrent_reannounce":
            for entry in selected(arguments) { session.reannounce(entry.infoHash) }
            completion(.success([]))
        case "queue_move_top", "queue_move_up", "queue_move_down", "queue_move_bottom":
            // The order is kept (in each record) and shown (queuePosition); the download queue
            // follows it at once.
            moveInQueue(selected(arguments), request.method)
            updateDownloadQueue()
            completion(.success([]))
        case "port_test":
            completion(.failure(RPCFailure(.internalError, "port test unavailable: it needs an outside service to connect back")))
        case "blocklist_update":
            blocklistUpdate(completion: completion)
        case "session_close":
            completion(.success([]))
            loop.schedule(after: .milliseconds(100)) { [weak self] in self?.stop() }
        case "torrent_set_location":
            guard let location = arguments["location"]?.stringValue else {
                return completion(.failure(RPCFailure(.invalidParams, "no location given")))
            }
            let move = arguments["move"]?.boolValue ?? false
            for entry in selected(arguments) {
                if let failure = relocate(entry, to: location, move: move) { return completion(.failure(failure)) }
            }
            completion(.success([]))
        case "torrent_rename_path":
            let entries = selected(arguments)
            guard entries.count == 1, arguments["ids"] != nil else {
                return completion(.failure(RPCFailure(.invalidParams, "torrent-rename-path needs exactly one torrent in ids")))
            }
            guard let path = arguments["path"]?.stringValue, let name = arguments["name"]?.stringValue else {
                return completion(.failure(RPCFailure(.invalidParams, "torrent-rename-path needs path and name")))
            }
            renamePath(entries[0], path: path, to: name, completion: completion)
        default:
            completion(.failure(RPCFailure(.methodNotFound, "method name not recognized: \(request.method)")))
        }
    }

    /// Moves torrents in the queue as Transmission does: the selected ones keep their order
    /// among themselves.
    private func moveInQueue(_ moved: [DaemonTorrent], _ method: String) {
        guard !moved.isEmpty else { return }
        var order = torrents.values.sorted { $0.queuePosition < $1.queuePosition }
        let chosen = Set(moved.map(\.id))
        switch method {
        case "queue_move_top": order = order.filter { chosen.contains($0.id) } + order.filter { !chosen.contains($0.id) }
        case "queue_move_bottom": order = order.filter { !chosen.contains($0.id) } + order.filter { chosen.contains($0.id) }
        case "queue_move_up":
            for index in order.indices.dropFirst() where chosen.contains(order[index].id) && !chosen.contains(order[index - 1].id) {
                order.swapAt(index, index - 1)
            }
        default:
            for index in order.indices.dropLast().reversed() where chosen.contains(order[index].id) && !chosen.contains(order[index + 1].id) {
                order.swapAt(index, index + 1)
            }
        }
        for (position, entry) in order.enumerated() where entry.queuePosition != position {
            entry.queuePosition = position
            saveRecord(entry)
        }
    }

    // MARK: - Selecting torrents

    /// The torrents `ids` names: all when absent; numbers, hash strings, or `recently-active`.
    func selected(_ arguments: JSON) -> [DaemonTorrent] {
        guard let ids = arguments["ids"] else { return torrents.values.sorted { $0.id < $1.id } }
        if ids.stringValue == "recently_active" { return torrents.values.sorted { $0.id < $1.id } }
        let list = ids.arrayValue ?? [ids]
        var picked: [DaemonTorrent] = []
        for id in list {
            if let number = id.integerValue, let entry = torrents[Int(clamping: number)] {
                picked.append(entry)
            } else if let text = id.stringValue, let hash = InfoHash(text: text), let number = self.ids[hash], let entry = torrents[number] {
                picked.append(entry)
            }
        }
        return picked
    }

    // MARK: - Session

    /// The encryption setting's name: Transmission 4.1's JSON-RPC renamed `tolerated` to `allowed`.
    static func encryptionName(_ policy: EncryptionPolicy, _ dialect: RPCDialect) -> String {
        dialect == .jsonRPC && policy == .tolerated ? "allowed" : policy.rawValue
    }

    private func sessionValues(fields: JSON?, dialect: RPCDialect) -> Arguments {
        let all: Arguments = [
            ("version", .string(Self.version)), ("rpc_version", .integer(Int64(Self.rpcVersion))),
            ("rpc_version_minimum", .integer(14)), ("rpc_version_semver", .string("5.3.0")),
            ("session_id", .string(sessionID)), ("config_dir", .string(config.path)),
            ("download_dir", .string(settings.string("download-dir"))), ("peer_port", .integer(Int64(peerAddress.port))),
            ("peer_limit_global", .integer(Int64(settings.integer("peer-limit-global")))),
            ("peer_limit_per_torrent", .integer(Int64(settings.integer("peer-limit-per-torrent")))),
            ("speed_limit_up", .integer(Int64(settings.integer("speed-limit-up")))),
            ("speed_limit_up_enabled", .bool(settings.bool("speed-limit-up-enabled"))),
            ("speed_limit_down", .integer(Int64(settings.integer("speed-limit-down")))),
            ("speed_limit_down_enabled", .bool(settings.bool("speed-limit-down-enabled"))),
            ("seed_ratio_limit", settings["ratio-limit"] ?? .double(2)), ("seed_ratio_limited", .bool(settings.bool("ratio-limit-enabled"))),
            ("idle_seeding_limit", .integer(Int64(settings.integer("idle-seeding-limit")))),
            ("idle_seeding_limit_enabled", .bool(settings.bool("idle-seeding-limit-enabled"))),
            ("encryption", .string(Self.encryptionName(session.options.encryption, dialect))), ("dht_enabled", .bool(false)), ("pex_enabled", .bool(settings.bool("pex-enabled"))),
            ("lpd_enabled", .bool(settings.bool("lpd-enabled"))), ("utp_enabled", .bool(false)), ("start_added_torrents", .bool(true)),
            ("download_queue_enabled", .bool(settings.bool("download-queue-enabled"))),
            ("download_queue_size", .integer(Int64(settings.integer("download-queue-size")))),
            // What the web client's preferences read (it fails on a missing key); features evtorrent
            // does not have are reported off.
            ("alt_speed_enabled", .bool(false)), ("alt_speed_down", .integer(50)), ("alt_speed_up", .integer(50)),
            ("alt_speed_time_enabled", .bool(false)), ("alt_speed_time_begin", .integer(540)), ("alt_speed_time_end", .integer(1020)),
            ("alt_speed_time_day", .integer(127)),
            ("blocklist_enabled", .bool(settings.bool("blocklist-enabled"))), ("blocklist_size", .integer(Int64(session.blocklist.ruleCount))),
            ("blocklist_url", .string(settings.string("blocklist-url"))), ("peer_port_random_on_start", .bool(false)), ("port_forwarding_enabled", .bool(false)),
            ("rename_partial_files", .bool(false)), ("seed_queue_enabled", .bool(false)), ("seed_queue_size", .integer(10)),
            ("queue_stalled_enabled", .bool(false)), ("queue_stalled_minutes", .integer(30)), ("incomplete_dir_enabled", .bool(false)),
            ("incomplete_dir", .string(settings.string("download-dir"))), ("cache_size_mib", .integer(4)),
            ("units", .object([
                ("speed_units", .array(["kB/s", "MB/s", "GB/s", "TB/s"].map(JSON.string))), ("speed_bytes", .integer(1000)),
                ("size_units", .array(["kB", "MB", "GB", "TB"].map(JSON.string))), ("size_bytes", .integer(1000)),
                ("memory_units", .array(["KiB", "MiB", "GiB", "TiB"].map(JSON.string))), ("memory_bytes", .integer(1024)),
            ])),
        ]
        guard let wanted = fields?.arrayValue?.compactMap(\.stringValue), !wanted.isEmpty else { return all }
        return all.filter { wanted.contains($0.0) }
    }

    private func sessionStats() -> Arguments {
        let stats = session.stats
        let status = session.status
        let active = torrents.values.filter { $0.torrent.uploadRate > 0 || $0.torrent.downloadRate > 0 }.count
        let paused = torrents.values.filter { $0.torrent.phase.isStopped }.count + magnets.values.filter { $0.fetch == nil }.count
        let seconds = Int64((loop.now - startedAt).components.seconds)
        let current: JSON = .object([
            ("uploaded_bytes", .integer(stats.uploadedBytes)), ("downloaded_bytes", .integer(stats.downloadedBytes)),
            ("files_added", .integer(Int64(torrents.count))), ("session_count", .integer(1)), ("seconds_active", .integer(seconds)),
        ])
        return [
            ("active_torrent_count", .integer(Int64(active))), ("paused_torrent_count", .integer(Int64(paused))),
            ("torrent_count", .integer(Int64(torrentCount))), ("upload_speed", .integer(Int64(status.uploadRate))),
            ("download_speed", .integer(Int64(status.downloadRate))), ("current_stats", current), ("cumulative_stats", current),
        ]
    }

    // MARK: - torrent-get

    /// The torrents' fields as asked. Names are resolved to fields once per request, and each
    /// object is written with its keys already in the client's spelling (`RPCReply.spelled`):
    /// for 10,000 torrents the per-torrent work is a switch on an enum and one encoding pass.
    private func torrentGet(_ arguments: JSON, _ request: RPCRequest) -> Result<Arguments, RPCFailure> {
        guard let fields = arguments["fields"]?.arrayValue?.compactMap(\.stringValue), !fields.isEmpty else {
            return .failure(RPCFailure(.invalidParams, "no fields specified"))
        }
        let known = fields.compactMap { name in TorrentFields.Field(rawValue: name).map { (name, $0) } }
        let keys = known.map { name, _ in
            request.dialect == .legacy ? request.spellings[name] ?? RPCNames.legacy(name) : name
        }
        // Values that are objects or arrays (files, trackers) carry keys of their own to respell.
        let legacy = request.dialect == .legacy
        func value(_ field: TorrentFields.Field, _ row: Row) -> JSON {
            let value: JSON
            switch row {
            case .torrent(let listed): value = TorrentFields.value(field, of: listed, daemon: self)
            case .magnet(let magnet): value = TorrentFields.value(field, of: magnet)
            }
            // Transmission 4.1's JSON-RPC gives `wanted` as booleans; the legacy dialect as 0 and 1.
            if !legacy, field == .wanted, case .array(let flags) = value {
                return .array(flags.map { .bool($0 != .integer(0)) })
            }
            switch value {
            case .array, .object: return legacy ? RPCReply.legacyKeys(value, spellings: request.spellings) : value
            default: return value
            }
        }
        let entries = selected(arguments).map { Row.torrent(TorrentFields.Listed($0)) } + selectedMagnets(arguments).map(Row.magnet)
        let now = loop.now
        removed.removeAll { now - $0.at > .seconds(60) }
        // Written straight into bytes, each key encoded once per request: no tree of ten thousand
        // objects to build and free.
        var text: [UInt8] = [UInt8(ascii: "[")]
        text.reserveCapacity(64 + entries.count * known.count * 24)
        if arguments["format"]?.stringValue == "table" {
            JSON.array(keys.map(JSON.string)).encode(into: &text)
            for entry in entries {
                text.append(UInt8(ascii: ","))
                text.append(UInt8(ascii: "["))
                for (index, field) in known.enumerated() {
                    if index > 0 { text.append(UInt8(ascii: ",")) }
                    value(field.1, entry).encode(into: &text)
                }
                text.append(UInt8(ascii: "]"))
            }
        } else {
            let prefixes = keys.map(JSON.memberPrefix)
            for (number, entry) in entries.enumerated() {
                if number > 0 { text.append(UInt8(ascii: ",")) }
                text.append(UInt8(ascii: "{"))
                for (index, field) in known.enumerated() {
                    if index > 0 { text.append(UInt8(ascii: ",")) }
                    text.append(contentsOf: prefixes[index])
                    value(field.1, entry).encode(into: &text)
                }
                text.append(UInt8(ascii: "}"))
            }
        }
        text.append(UInt8(ascii: "]"))
        var result: Arguments = [("torrents", .encoded(text))]
        if arguments["ids"]?.stringValue == "recently_active" {
            result.append(("removed", .array(removed.map { .integer(Int64($0.id)) })))
        }
        return .success(result)
    }

    /// One row of torrent-get: a torrent, or a magnet without its metadata yet.
    private enum Row {
        case torrent(TorrentFields.Listed)
        case magnet(DaemonMagnet)
    }

    /// The torrent already here (other than `except`) whose files `location` would share (two
    /// torrents writing one file corrupt each other), if any.
    func collision(_ location: ContentLocation, except: DaemonTorrent? = nil) -> DaemonTorrent? {
        for path in location.paths {
            if let owner = fileOwners.owner(of: path), owner != except?.id, let entry = torrents[owner] { return entry }
        }
        return nil
    }

    // MARK: - torrent-add

    private func torrentAdd(_ arguments: JSON, completion: @escaping (Result<Arguments, RPCFailure>) -> Void) {
        let directory = arguments["download_dir"]?.stringValue ?? settings.string("download-dir")
        let paused = arguments["paused"]?.boolValue ?? false
        let labels = arguments["labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
        // Files wanted and their priorities may come with the add, as torrent-set takes them.
        let fileKeys: Set = ["files_wanted", "files_unwanted", "priority_high", "priority_low", "priority_normal"]
        let files = (arguments.objectValue ?? []).filter { fileKeys.contains($0.0) }
        let finish = { [unowned self] (bytes: [UInt8]) in
            completion(self.addTorrent(bytes, directory: directory, paused: paused, labels: labels, files: files))
        }
        if let encoded = arguments["metainfo"]?.stringValue {
            guard let bytes = Base64.decode(encoded) else {
                return completion(.failure(RPCFailure(.invalidParams, "invalid or corrupt torrent file: metainfo is not base64")))
            }
            return finish(bytes)
        }
        guard let filename = arguments["filename"]?.stringValue, !filename.isEmpty else {
            return completion(.failure(RPCFailure(.invalidParams, "no filename or metainfo specified")))
        }
        if filename.lowercased().hasPrefix("magnet:") {
            return completion(addMagnet(filename, directory: directory, paused: paused, labels: labels, files: files))
        }
        if filename.lowercased().hasPrefix("http://") || filename.lowercased().hasPrefix("https://") {
            // The answer waits for the fetch; the loop does not.
            HTTPClient(loop: loop).get(filename, timeout: .seconds(30), maxResponseBytes: Int(MetainfoLoader.maxTorrentFileBytes)) { result in
                switch result {
                case .success(let response) where response.status == 200: finish(response.body)
                case .success(let response): completion(.failure(RPCFailure(.invalidParams, "fetching \(filename): HTTP \(response.status)")))
                case .failure(let error): completion(.failure(RPCFailure(.invalidParams, "fetching \(filename): \(error)")))
                }
            }
            return
        }
        guard let bytes = try? FileContents.read(filename, limit: Int(MetainfoLoader.maxTorrentFileBytes)) else {
            return completion(.failure(RPCFailure(.invalidParams, "cannot read \(filename)")))
        }
        finish(bytes)
    }

    /// `files`: torrent-set's file arguments for a torrent newly added.
    func addTorrent(
        _ bytes: [UInt8], directory: String, paused: Bool, labels: [String], files: Arguments = []
    ) -> Result<Arguments, RPCFailure> {
        let metainfo: Metainfo
        do { metainfo = try MetainfoLoader.parse(bytes, path: "metainfo", sharingTiers: shared.tiers) } catch {
            return .failure(RPCFailure(.invalidParams, "invalid or corrupt torrent file (\(error))"))
        }
        if ids[metainfo.infoHash] == nil, let other = collision(ContentLocation(metainfo: metainfo, directory: directory)) {
            return .failure(RPCFailure(
                .invalidParams, "its files would overwrite those of torrent \(other.id) (\(other.torrent.metainfo.info.name)): choose another download-dir"))
        }
        let (entry, duplicate) = add(metainfo, bytes: bytes, downloadDirectory: directory, paused: paused, labels: labels)
        let summary: JSON = .object([("id", .integer(Int64(entry.id))), ("name", .string(metainfo.info.name)), ("hash_string", .string(metainfo.infoHash.hex))])
        if !duplicate { log.info("torrent_added", [("torrent", metainfo.info.name), ("id", entry.id)]) }
        if !duplicate, !files.isEmpty, case .failure(let failure) = torrentSet(.object([("ids", .array([.integer(Int64(entry.id))]))] + files)) {
            return .failure(failure)
        }
        return .success([(duplicate ? "torrent_duplicate" : "torrent_added", summary)])
    }
}
