import Client
import Reactor

/// `torrent-set-location`: a torrent's data moves to another download directory on the file
/// pool, the torrent stopped meanwhile and running again after (where its files are) if it ran
/// before. The record names the target before the first file moves, so a daemon killed mid-move
/// finishes the move when it starts again; a move that fails (a full disk) puts every file back
/// and says so in the torrent's error.
extension Daemon {
    /// Starts moving (`move`) or pointing (files already there: they are checked) `entry` to
    /// `directory`; the answer does not wait for the files.
    func relocate(_ entry: DaemonTorrent, to requested: String, move: Bool) -> RPCFailure? {
        var trimmed = requested
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        let directory = trimmed
        guard directory.hasPrefix("/") else { return RPCFailure(.invalidParams, "location must be an absolute path: \(requested)") }
        guard !entry.isMoving else { return RPCFailure(.invalidParams, "torrent \(entry.id) is being moved already") }
        if directory == entry.downloadDirectory { return nil }
        let metainfo = entry.torrent.metainfo
        let source = entry.torrent.location
        let target = ContentLocation(metainfo: metainfo, directory: directory, names: entry.names)
        if let other = collision(target, except: entry) {
            return RPCFailure(.invalidParams, "its files would overwrite those of torrent \(other.id) (\(other.name))")
        }
        let wasRunning = !entry.torrent.phase.isStopped
        entry.isMoving = true
        entry.error = nil
        // The new paths are claimed at once: no torrent added meanwhile may take them.
        for path in target.paths { fileOwners.claim(path, for: entry.id) }
        log.info("moving", [("torrent", metainfo.info.name), ("to", directory), ("move", move)])
        session.stop(entry.infoHash, waitForTrackers: false) { [weak self] in
            guard let self, self.torrents[entry.id] === entry else { return }
            guard move else { return self.finishMove(entry, to: directory, from: source, running: wasRunning, failure: nil, check: true) }
            var moving = self.record(of: entry)
            moving.paused = !wasRunning
            moving.moveTo = directory
            let record = moving
            let config = self.config, root = entry.downloadDirectory
            self.loop.offload(to: self.filePool, { () -> SystemError? in
                // The target is on record before the first file moves.
                do throws(SystemError) { try config.saveRecord(record, for: metainfo.infoHash) } catch { return error }
                return DataFiles.move(source, to: target, from: root, into: directory, resuming: false)
            }) { [weak self] failure in
                self?.finishMove(entry, to: failure == nil ? directory : root, from: source, running: wasRunning, failure: failure)
            }
        }
        return nil
    }

    /// `torrent-rename-path`: renames one file or folder of `entry` (on disk too, the torrent
    /// stopped meanwhile); the answer waits for the rename.
    func renamePath(_ entry: DaemonTorrent, path: String, to name: String, completion: @escaping (Result<Arguments, RPCFailure>) -> Void) {
        guard !entry.isMoving else { return completion(.failure(RPCFailure(.invalidParams, "torrent \(entry.id) is being moved"))) }
        let metainfo = entry.torrent.metainfo
        let renamed: FileRenaming.Renamed
        switch FileRenaming.rename(entry.names ?? ContentLocation.names(of: metainfo), path: path, to: name) {
        case .failure(let refusal): return completion(.failure(RPCFailure(.invalidParams, refusal.description)))
        case .success(let result): renamed = result
        }
        let answer: Arguments = [("path", .string(path)), ("name", .string(name)), ("id", .integer(Int64(entry.id)))]
        if renamed.from == renamed.to { return completion(.success(answer)) }
        let directory = entry.downloadDirectory
        let target = ContentLocation(metainfo: metainfo, directory: directory, names: renamed.names)
        if let other = collision(target, except: entry) {
            return completion(.failure(RPCFailure(.invalidParams, "its files would overwrite those of torrent \(other.id) (\(other.name))")))
        }
        let source = entry.torrent.location
        let wasRunning = !entry.torrent.phase.isStopped
        entry.isMoving = true
        session.stop(entry.infoHash, waitForTrackers: false) { [weak self] in
            guard let self, self.torrents[entry.id] === entry else { return }
            let from = directory + "/" + renamed.from, to = directory + "/" + renamed.to
            self.loop.offload(to: self.filePool, { () -> SystemError? in
                do throws(SystemError) { try FileMover.renameInPlace(from, to: to) } catch { return error }
                return nil
            }) { [weak self] failure in
                guard let self else { return }
                if let failure {
                    entry.isMoving = false
                    if wasRunning { self.session.start(entry.infoHash) }
                    return completion(.failure(RPCFailure(.invalidParams, "renaming \(path) failed: \(failure)")))
                }
                entry.names = renamed.names
                self.finishMove(entry, to: directory, from: source, running: wasRunning, failure: nil)
                completion(.success(answer))
            }
        }
    }

    /// The move ended: the torrent runs again from `directory` (the target, or its old place if
    /// the move failed).
    /// With `check` (data found, not moved) it is checked there.
    private func finishMove(
        _ entry: DaemonTorrent, to directory: String, from source: ContentLocation, running: Bool, failure: SystemError?, check: Bool = false
    ) {
        let metainfo = entry.torrent.metainfo
        let location = ContentLocation(metainfo: metainfo, directory: directory, names: entry.names)
        for path in source.paths + location.paths { fileOwners.release(path, from: entry.id) }
        for path in location.paths { fileOwners.claim(path, for: entry.id) }
        if let failure {
            entry.error = "moving its data failed (\(failure)); it stays in \(directory)"
            log.warn("move_failed", [("torrent", metainfo.info.name), ("error", failure), ("stays_in", directory)])
        } else {
            log.info("moved", [("torrent", metainfo.info.name), ("to", directory)])
        }
        // It is stopped: taking it out announces nothing and writes no resume file.
        session.remove(entry.infoHash)
        entry.downloadDirectory = directory
        entry.torrent = engineTorrent(metainfo, location: location, paused: !running, trustResume: !check)
        if entry.settings != TorrentSettings() { apply(entry) }
        entry.isMoving = false
        saveRecord(entry)
    }

    /// Start-up found a move a crash interrupted: it is finished (or undone, if it cannot be) on
    /// the file pool before the torrent comes back.
    func finishInterruptedMove(_ metainfo: Metainfo, record: ConfigDirectory.Record, to target: String) {
        log.warn("move_resumed", [("torrent", metainfo.info.name), ("from", record.downloadDirectory), ("to", target)])
        let source = ContentLocation(metainfo: metainfo, directory: record.downloadDirectory, names: record.names)
        let destination = ContentLocation(metainfo: metainfo, directory: target, names: record.names)
        let root = record.downloadDirectory
        loop.offload(to: filePool, { DataFiles.move(source, to: destination, from: root, into: target, resuming: true) }) { [weak self] failure in
            guard let self else { return }
            var record = record
            record.moveTo = nil
            if let failure {
                self.log.warn("move_failed", [("torrent", metainfo.info.name), ("error", failure), ("stays_in", root)])
            } else {
                record.downloadDirectory = target
            }
            let entry = self.attach(metainfo, record: record)
            if let failure { entry.error = "moving its data failed (\(failure)); it stays in \(root)" }
            self.saveRecord(entry)
        }
    }
}
