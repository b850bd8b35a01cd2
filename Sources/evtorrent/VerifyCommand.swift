import ArgumentParser
import Client

/// `evtorrent verify TORRENT --data DIR`: hash-check the data on disk.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check data on disk against a torrent's piece hashes.",
        discussion: "The content is expected at DIR/NAME, as a download into DIR leaves it. Exits 0 only if every piece verifies.")

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(name: .shortAndLong, help: "The directory holding the content (default: the torrent file's directory).")
    var data: String?

    @Option(help: "Hashing threads (default: one per core).")
    var threads: Int?

    func run() throws {
        let metainfo: Metainfo
        do { metainfo = try MetainfoLoader.load(torrent) } catch { throw fail(error.description) }
        let directory = data ?? Self.directory(of: torrent)
        if let threads, threads < 1 { throw fail("--threads must be at least 1") }

        let info = metainfo.info
        let bar = ProgressBar(label: "verifying", total: info.totalLength)
        let report = DataVerifier.verify(metainfo, directory: directory, threads: threads ?? TorrentCreator.defaultThreads) { _, _, done in
            bar.update(bytesDone: done)
        }
        bar.finish()

        let name = { (file: FileIndex) in info.relativePath(of: file).joined(separator: "/") }
        for file in report.missingFiles { print("missing:    \(directory)/\(name(file))") }
        for (file, size) in report.wrongSizeFiles {
            print("wrong size: \(directory)/\(name(file)) is \(size) bytes, expected \(info.files[file.value].length)")
        }
        for file in report.damagedFiles where !report.missingFiles.contains(file) {
            print("damaged:    \(directory)/\(name(file))")
        }
        for error in report.readErrors { print("read error: \(error)") }
        let good = report.goodPieces.setCount
        if report.isIntact {
            print("OK: all \(info.pieceCount) pieces verified (\(Format.bytes(info.totalLength)), \(metainfo.infoHash))")
            return
        }
        if report.isComplete {
            let files = report.missingFiles.count + report.wrongSizeFiles.count
            print("FAILED: all \(info.pieceCount) pieces verified, but \(files) file(s) are missing or the wrong size")
        } else {
            print("bad pieces: \(Format.ranges(report.badPieces.map(\.value)))")
            print("FAILED: \(good) of \(info.pieceCount) pieces verified (\(info.pieceCount - good) bad or missing)")
        }
        throw ExitCode.failure
    }

    /// The directory part of a path (`.` for a bare file name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
