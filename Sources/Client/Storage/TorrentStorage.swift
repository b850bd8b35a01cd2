import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// One torrent's data on disk: serves blocks from the page cache (the payload path), hashes
/// pieces on the hash pool, writes verified pieces on the disk pool, and keeps the resume file.
/// The loop never waits for a disk: every slow step hands its result back as a loop callback.
final class TorrentStorage {
    /// Where the files are.
    let location: ContentLocation
    /// Each file's path, spelled once for the blocks served and written (the location spells
    /// them when asked).
    private let paths: [String]
    /// The location's layout, read once per block served.
    private let layout: FileLayout
    private let metainfo: Metainfo
    private let disk: DiskIO
    /// Its open files for writing, made at the first write: a seeding torrent (most of ten
    /// thousand) never writes, and a writer with its lock is four allocations.
    private var openWriter: FileWriter?
    private var writer: FileWriter {
        if let openWriter { return openWriter }
        let made = FileWriter(preallocate: preallocate)
        openWriter = made
        return made
    }
    private let preallocate: Bool
    private let resume: ResumeStore?
    /// Pieces were added since the resume file was last written.
    var resumeDirty = false
    private var savingResume = false
    private var afterSave: [() -> Void] = []

    init(metainfo: Metainfo, location: ContentLocation, disk: DiskIO, preallocate: Bool = false, resume: ResumeStore? = nil) {
        self.metainfo = metainfo
        self.location = location
        paths = location.paths
        layout = location.layout
        self.disk = disk
        self.resume = resume
        self.preallocate = preallocate
    }

    // MARK: - Serving

    /// Queues `request`'s block on `connection`, `header` first, if every byte of it is in the
    /// page cache. A part that is not comes back as `.cold`: warm it (`warm`) and try again.
    /// Never waits for the disk.
    func queueBlock(_ request: BlockRequest, header: [UInt8], on connection: any Connection) -> BlockQueueing {
        let start = Int64(request.piece.value) * Int64(layout.pieceLength) + Int64(request.offset)
        let range = start..<start + Int64(request.length)
        // Most blocks lie within one file: no arrays on the way.
        if let span = layout.span(within: range), !location.isPadding[span.file.value] {
            switch prepare(span) {
            case .ready(let block): return write(block, header: header, on: connection)
            case .cold(let block): return .cold(block)
            case .failed(let error): return .failed(error)
            }
        }
        var parts: [BlockPart] = []
        for span in layout.spans(covering: range) {
            if location.isPadding[span.file.value] {
                parts.append(.zeros(span.length))
                continue
            }
            switch prepare(span) {
            case .ready(let block): parts.append(.file(block))
            case .cold(let block): return .cold(block)
            case .failed(let error): return .failed(error)
            }
        }
        return queue(parts, header: header, on: connection)
    }

    /// Reads `block` into the page cache on the disk pool; `completion` runs on the loop, false if
    /// the file no longer holds it.
    func warm(_ block: FileBlock, completion: @escaping (Bool) -> Void) {
        let disk = self.disk, start = disk.began()
        disk.blocks.warm(block) { whole in
            disk.ended(.read, bytes: block.length, since: start)
            completion(whole)
        }
    }

    private func prepare(_ span: FileSpan) -> BlockReader.Readiness {
        disk.blocks.prepare(path: paths[span.file.value], offset: span.offset, length: span.length)
    }

    private func queue(_ parts: [BlockPart], header: [UInt8], on connection: any Connection) -> BlockQueueing {
        var header = header
        for part in parts {
            switch part {
            case .file(let block):
                if case .failed(let error) = write(block, header: header, on: connection) { return .failed(error) }
            case .zeros(let count):
                connection.write(header + [UInt8](repeating: 0, count: count))
            }
            header = []
        }
        return .queued
    }

    private func write(_ block: FileBlock, header: [UInt8], on connection: any Connection) -> BlockQueueing {
        guard connection.write(header: header, block: block) else {
            return .failed(SystemError(errno: EIO, operation: "queue block", path: block.file.path))
        }
        return .queued
    }

    // MARK: - Downloading

    /// Hashes `bytes` on the hash pool; `completion` hears on the loop whether they are `piece`.
    func verify(_ piece: PieceIndex, _ bytes: [UInt8], completion: @escaping (Bool) -> Void) {
        let expected = metainfo.info.hash(of: piece)
        disk.offloader.offload(to: disk.hashPool, { Digest.hash(.sha1, bytes).elementsEqual(expected) }, completion: completion)
    }

    /// Writes a verified piece on the disk pool; `completion` gets the error, if any, on the loop.
    func write(_ piece: PieceIndex, _ bytes: [UInt8], completion: @escaping (SystemError?) -> Void) {
        let location = self.location, paths = self.paths
        let writer = self.writer
        let spans = location.layout.spans(of: piece)
        let disk = self.disk, start = disk.began(), count = bytes.count
        let completion = { (error: SystemError?) in
            disk.ended(.write, bytes: count, since: start)
            completion(error)
        }
        disk.offloader.offload(to: disk.diskPool, { () -> SystemError? in
            var position = 0
            for span in spans {
                defer { position += span.length }
                if location.isPadding[span.file.value] { continue }
                let failure = bytes.withUnsafeBytes { buffer -> SystemError? in
                    do throws(SystemError) {
                        try writer.write(
                            UnsafeRawBufferPointer(rebasing: buffer[position..<position + span.length]),
                            to: paths[span.file.value], at: span.offset,
                            fileLength: location.layout.length(ofFile: span.file.value))
                        return nil
                    } catch { return error }
                }
                if let failure { return failure }
            }
            return nil
        }, completion: completion)
    }

    /// Creates the wanted files no piece touches (empty ones), once the rest is on disk.
    func createEmptyFiles(completion: @escaping (SystemError?) -> Void) {
        let writer = self.writer
        let info = metainfo.info
        let empty = info.files.indices.filter { info.files[$0].length == 0 && !location.isPadding[$0] }.map { paths[$0] }
        disk.offloader.offload(to: disk.diskPool, { () -> SystemError? in
            for path in empty {
                do throws(SystemError) { try writer.create(path) } catch { return error }
            }
            return nil
        }, completion: completion)
    }

    /// The files that are shorter on disk than the torrent says, or have a hole, although every
    /// piece in them is `have`: cut short under a running download (later writes may have
    /// extended them again over a hole of zeros), so pieces counted are gone. Checked on the
    /// disk pool; padding files and files with a piece not had (skipped) are not looked at.
    func damagedFiles(have: Bitfield, completion: @escaping ([String]) -> Void) {
        let location = self.location, paths = self.paths
        let whole = (0..<location.layout.fileCount).filter { index in
            guard !location.isPadding[index], location.layout.length(ofFile: index) > 0,
                let pieces = location.layout.pieces(of: FileIndex(index))
            else { return false }
            return (pieces.lowerBound.value...pieces.upperBound.value).allSatisfy { have[PieceIndex($0)] }
        }
        disk.offloader.offload(to: disk.diskPool, { () -> [String] in
            whole.compactMap { index in
                let written = FileContents.dataPrefix(paths[index]) ?? -1
                return written < location.layout.length(ofFile: index) ? paths[index] : nil
            }
        }, completion: completion)
    }

    /// Writes the resume file if pieces were added since the last save: data first reaches the
    /// disk (fsync), then the file claiming it is replaced atomically. A crash at any point leaves
    /// resume data that claims only pieces already on disk. `completion` runs once it is done
    /// (or failed: the error goes to `failed`, and the next save tries again).
    func saveResume(_ snapshot: @escaping () -> ResumeData, failed: @escaping (SystemError) -> Void, completion: (() -> Void)? = nil) {
        if savingResume {
            if let completion { afterSave.append(completion) }
            return
        }
        guard let store = resume, resumeDirty else {
            completion?()
            return
        }
        resumeDirty = false
        savingResume = true
        let writer = openWriter
        let location = self.location
        let data = snapshot()
        disk.offloader.offload(to: disk.diskPool, { () -> SystemError? in
            do throws(SystemError) {
                try writer?.syncAll()
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
                failed(error)
            }
            completion?()
            let waiting = self.afterSave
            self.afterSave = []
            if !waiting.isEmpty { self.saveResume(snapshot, failed: failed) { waiting.forEach { $0() } } }
        }
    }

    /// Closes the files written (after the last resume save).
    func closeFiles() { openWriter?.closeAll() }
}

@available(*, unavailable)
extension TorrentStorage: Sendable {}

extension SystemError {
    /// Whether the error says the disk (or the quota, or the file-size limit) is full.
    var isDiskFull: Bool { errno == ENOSPC || errno == EDQUOT || errno == EFBIG }
}
