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
        if let other = collision(metainfo, directory: directory), other !== entry {
            return RPCFailure(.invalidParams, "its files would overwrite those of torrent \(other.id) (\(other.torrent.metainfo.info.name))")
        }
        let source = entry.torrent.location
        let target = ContentLocation(metainfo: metainfo, directory: directory)
        let wasRunning: Bool
        if case .stopped = entry.torrent.phase { wasRunning = false } else { wasRunning = true }
        entry.isMoving = true
        entry.error = nil
        // The new paths are claimed at once: no torrent added meanwhile may take them.
        for path in target.paths { fileOwners[path] = entry.id }
        log.info("moving", [("torrent", metainfo.info.name), ("to", directory), ("move", move)])
        session.stop(entry.infoHash) { [weak self] in
            guard let self, self.torrents[entry.id] === entry else { return }
            guard move else { return self.finishMove(entry, to: directory, from: source, running: wasRunning, failure: nil) }
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

    /// The move ended: the torrent runs again from `directory` (the target, or its old place if
    /// the move failed).
    private func finishMove(_ entry: DaemonTorrent, to directory: String, from source: ContentLocation, running: Bool, failure: SystemError?) {
        let metainfo = entry.torrent.metainfo
        let location = ContentLocation(metainfo: metainfo, directory: directory)
        for path in source.paths + ContentLocation(metainfo: metainfo, directory: directory).paths where fileOwners[path] == entry.id {
            fileOwners.removeValue(forKey: path)
        }
        for path in location.paths { fileOwners[path] = entry.id }
        if let failure {
            entry.error = "moving its data failed (\(failure)); it stays in \(directory)"
            log.warn("move_failed", [("torrent", metainfo.info.name), ("error", failure), ("stays_in", directory)])
        } else {
            log.info("moved", [("torrent", metainfo.info.name), ("to", directory)])
        }
        // It is stopped: taking it out announces nothing and writes no resume file.
        session.remove(entry.infoHash)
        entry.downloadDirectory = directory
        entry.torrent = engineTorrent(metainfo, location: location, paused: !running)
        entry.isMoving = false
        saveRecord(entry)
    }

    /// Start-up found a move a crash interrupted: it is finished (or undone, if it cannot be) on
    /// the file pool before the torrent comes back.
    func finishInterruptedMove(_ metainfo: Metainfo, record: ConfigDirectory.Record, to target: String) {
        log.warn("move_resumed", [("torrent", metainfo.info.name), ("from", record.downloadDirectory), ("to", target)])
        let source = ContentLocation(metainfo: metainfo, directory: record.downloadDirectory)
        let destination = ContentLocation(metainfo: metainfo, directory: target)
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
