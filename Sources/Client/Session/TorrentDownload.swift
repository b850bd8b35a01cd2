import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// The downloading half of a torrent: assembles blocks into pieces in memory, hashes each on the
/// hash pool, writes verified pieces through the disk pool, keeps the resume file, and tracks
/// which peers sent bad data (banning a peer after its second bad piece). Loop thread only.
final class TorrentDownload {
    /// Why downloading is paused (a full disk, a write error); nil while running.
    private(set) var pausedReason: String?
    var picker: PiecePicker

    private unowned let torrent: Torrent
    private let options: DownloadOptions
    private let writer: FileWriter
    private var buffers: [PieceIndex: PieceBuffer] = [:]
    /// Earlier failed copies of a piece, kept until it verifies to see whose blocks were wrong.
    private var failedAttempts: [PieceIndex: [PieceBuffer]] = [:]
    private var strikes: [String: Int] = [:]
    /// Verified pieces whose write failed, retried while paused.
    private var unwritten: [(PieceIndex, [UInt8])] = []
    /// Retried writes not yet back: the pause ends when they are all in.
    private var retrying = 0
    private var resumeDirty = false
    private var savingResume = false
    private var afterSave: [() -> Void] = []
    private var timers: [TimerHandle] = []
    /// Called once when every wanted piece is verified and written.
    var finished: (() -> Void)?

    /// One piece being assembled: its bytes and, per block, who sent it.
    final class PieceBuffer {
        var bytes: [UInt8]
        var sources: [String?]
        init(length: Int) {
            // Every byte is written by a block before the piece is hashed: no need to zero it.
            bytes = [UInt8](unsafeUninitializedCapacity: length) { _, count in count = length }
            sources = [String?](repeating: nil, count: (length + PiecePicker.blockLength - 1) / PiecePicker.blockLength)
        }
    }

    init(torrent: Torrent, have: Bitfield, options: DownloadOptions) {
        self.torrent = torrent
        self.options = options
        let info = torrent.metainfo.info
        picker = PiecePicker(pieceLength: info.pieceLength, totalLength: info.totalLength, have: have)
        picker.sequential = options.sequential
        if let priorities = options.piecePriorities { picker.setPriorities(priorities) }
        writer = FileWriter(preallocate: options.preallocate)
        let loop = torrent.session.loop
        timers.append(loop.scheduleRepeating(every: options.resumeInterval) { [weak self] in self?.saveResume() })
        timers.append(loop.scheduleRepeating(every: .seconds(10)) { [weak self] in self?.retryWrites() })
    }

    /// Whether every wanted piece is ours.
    var isFinished: Bool { picker.isFinished }

    func stop() {
        for timer in timers { timer.cancel() }
        timers = []
    }

    /// Takes a block the picker accepted; starts verification when its piece is whole.
    func store(_ request: BlockRequest, _ data: ArraySlice<UInt8>, from source: String, pieceComplete: Bool) {
        let piece = request.piece
        let buffer = buffers[piece] ?? PieceBuffer(length: picker.length(of: piece))
        buffers[piece] = buffer
        buffer.bytes.withUnsafeMutableBytes { target in
            data.withUnsafeBytes { target.baseAddress!.advanced(by: request.offset).copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        }
        buffer.sources[request.offset / PiecePicker.blockLength] = source
        torrent.downloadedBytes += Int64(data.count)
        if pieceComplete { verify(piece) }
    }

    private func verify(_ piece: PieceIndex) {
        guard let buffer = buffers.removeValue(forKey: piece) else { return }
        let expected = torrent.metainfo.info.hash(of: piece)
        let bytes = buffer.bytes
        torrent.session.loop.offload(to: torrent.session.hashPool, { Digest.hash(.sha1, bytes).elementsEqual(expected) }) {
            [weak self] good in
            guard let self else { return }
            if good {
                self.write(piece, buffer.bytes)
                self.judgeEarlierAttempts(piece, good: buffer.bytes)
            } else {
                self.failed(piece, buffer)
            }
        }
    }

    private func failed(_ piece: PieceIndex, _ buffer: PieceBuffer) {
        torrent.hashFailures += 1
        torrent.downloadedBytes -= Int64(buffer.bytes.count)
        picker.pieceFailed(piece)
        let senders = Set(buffer.sources.compactMap { $0 })
        torrent.session.log.info("hash_failed", [("piece", piece), ("peers", senders.sorted().joined(separator: ","))])
        if senders.count == 1, let only = senders.first {
            strike(only)
        } else {
            failedAttempts[piece, default: []].append(buffer)
            if failedAttempts[piece]!.count > 3 { failedAttempts[piece]!.removeFirst() }
        }
        torrent.refillAll()
    }

    /// A piece verified: every earlier failed copy is compared block by block, and whoever sent a
    /// block that differs from the good one gets a strike.
    private func judgeEarlierAttempts(_ piece: PieceIndex, good: [UInt8]) {
        guard let attempts = failedAttempts.removeValue(forKey: piece) else { return }
        for attempt in attempts {
            var culprits = Set<String>()
            for (block, source) in attempt.sources.enumerated() {
                guard let source else { continue }
                let start = block * PiecePicker.blockLength
                let end = min(start + PiecePicker.blockLength, good.count)
                if !attempt.bytes[start..<end].elementsEqual(good[start..<end]) { culprits.insert(source) }
            }
            for culprit in culprits { strike(culprit) }
        }
    }

    private func strike(_ source: String) {
        strikes[source, default: 0] += 1
        guard strikes[source]! >= 2, !torrent.bannedPeers.contains(source) else { return }
        torrent.session.log.warn("peer_banned", [("peer", source), ("reason", "sent data that failed the hash check twice")])
        torrent.ban(source, reason: .badData)
    }

    /// Writes a verified piece on the disk pool; the piece counts once it is written.
    private func write(_ piece: PieceIndex, _ bytes: [UInt8], retry: Bool = false) {
        let location = torrent.location
        let writer = self.writer
        let spans = location.layout.spans(of: piece)
        torrent.session.loop.offload(to: torrent.session.diskPool, { () -> SystemError? in
            var position = 0
            for span in spans {
                defer { position += span.length }
                if location.isPadding[span.file.value] { continue }
                let failure = bytes.withUnsafeBytes { buffer -> SystemError? in
                    do throws(SystemError) {
                        try writer.write(
                            UnsafeRawBufferPointer(rebasing: buffer[position..<position + span.length]),
                            to: location.paths[span.file.value], at: span.offset,
                            fileLength: location.layout.fileLengths[span.file.value])
                        return nil
                    } catch { return error }
                }
                if let failure { return failure }
            }
            return nil
        }) { [weak self] error in
            guard let self else { return }
            if let error {
                self.unwritten.append((piece, bytes))
                self.pause(because: error)
            } else {
                self.written(piece)
            }
            if retry { self.retryDone() }
        }
    }

    private func written(_ piece: PieceIndex) {
        picker.pieceVerified(piece)
        resumeDirty = true
        torrent.pieceCompleted(piece)
        if picker.isFinished { finish() }
    }

    /// Every wanted piece is on disk: create the wanted files no piece touches (empty ones),
    /// save the resume file, and report.
    private func finish() {
        let location = torrent.location
        let writer = self.writer
        let info = torrent.metainfo.info
        let empty = info.files.indices.filter { index in
            info.files[index].length == 0 && !location.isPadding[index]
        }.map { location.paths[$0] }
        torrent.session.loop.offload(to: torrent.session.diskPool, { () -> SystemError? in
            for path in empty {
                do throws(SystemError) { try writer.create(path) } catch { return error }
            }
            return nil
        }) { [weak self] error in
            guard let self else { return }
            if let error { self.torrent.session.log.warn("create_failed", [("error", error)]) }
            self.resumeDirty = true
            self.saveResume { [weak self] in
                self?.finished?()
                self?.finished = nil
            }
        }
    }

    private func pause(because error: SystemError) {
        let full = error.errno == ENOSPC || error.errno == EDQUOT || error.errno == EFBIG
        let reason =
            full
            ? "disk full writing \(error.path ?? "data"): free some space; downloading resumes by itself"
            : "cannot write \(error.path ?? "data"): \(error); fix it and downloading resumes by itself"
        if pausedReason == nil { torrent.session.log.error("download_paused", [("torrent", torrent.metainfo.info.name), ("reason", reason)]) }
        pausedReason = reason
    }

    /// While paused, tries the failed writes again; when all of them go through, downloading resumes.
    private func retryWrites() {
        guard pausedReason != nil, retrying == 0, !unwritten.isEmpty else { return }
        let pending = unwritten
        unwritten = []
        retrying = pending.count
        for (piece, bytes) in pending { write(piece, bytes, retry: true) }
    }

    private func retryDone() {
        retrying -= 1
        guard retrying == 0, unwritten.isEmpty, pausedReason != nil else { return }
        pausedReason = nil
        torrent.session.log.warn("download_resumed", [("torrent", torrent.metainfo.info.name)])
        torrent.refillAll()
    }

    /// Writes the resume file if pieces were added since the last save: data first reaches the
    /// disk (fsync), then the file claiming it is replaced atomically. A crash at any point leaves
    /// resume data that claims only pieces already on disk.
    func saveResume(completion: (() -> Void)? = nil) {
        if savingResume {
            if let completion { afterSave.append(completion) }
            return
        }
        guard let store = options.resume, resumeDirty else {
            completion?()
            return
        }
        resumeDirty = false
        savingResume = true
        let writer = self.writer
        let location = torrent.location
        var snapshot = ResumeData(infoHash: torrent.metainfo.infoHash, pieces: picker.have, files: [])
        snapshot.downloaded = torrent.downloadedBytes
        snapshot.uploaded = torrent.uploadedBytes
        let data = snapshot
        torrent.session.loop.offload(to: torrent.session.diskPool, { () -> SystemError? in
            do throws(SystemError) {
                try writer.syncAll()
                var saved = data
                saved.files = ResumeStore.fileStates(location)
                try store.save(saved)
                return nil
            } catch { return error }
        }) { [weak self] error in
            guard let self else { return }
            self.savingResume = false
            if let error {
                self.resumeDirty = true
                self.torrent.session.log.warn("resume_save_failed", [("error", error)])
            }
            completion?()
            let waiting = self.afterSave
            self.afterSave = []
            if !waiting.isEmpty { self.saveResume { waiting.forEach { $0() } } }
        }
    }

    /// Closes the files (at exit, after the last resume save).
    func closeFiles() { writer.closeAll() }
}

@available(*, unavailable)
extension TorrentDownload: Sendable {}
