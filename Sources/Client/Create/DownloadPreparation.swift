import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// What `evtorrent download` starts from: the torrent, where its content goes, the pieces already
/// verified there, and which pieces are wanted.
public struct PreparedDownload: Sendable {
    public let metainfo: Metainfo
    public let location: ContentLocation
    public let have: Bitfield
    /// Per-piece priorities (0 = skipped); nil when every file is wanted.
    public let priorities: [UInt8]?
    /// How `have` was established: "new" (nothing on disk), "resume" or "verified".
    public let how: String
}

/// Getting a download ready: the content goes to `directory/name`; pieces already there are
/// trusted from resume data if no file changed since it was written, else hash-checked, so a
/// restart (after a crash too) keeps every verified piece.
extension Preparation {
    /// Prepares `metainfo` for download into `directory`, wanting the files that match a glob in
    /// `only` (all if empty) and none that match one in `skip`.
    public func prepare(
        _ metainfo: Metainfo, into directory: String, only: [String] = [], skip: [String] = []
    ) throws(DownloadError) -> PreparedDownload {
        let info = metainfo.info
        let location = ContentLocation(metainfo: metainfo, directory: directory)
        let priorities = try FileSelection.priorities(metainfo, only: only, skip: skip)
        if let pieces = resume.trustedPieces(metainfo, location: location) {
            return PreparedDownload(metainfo: metainfo, location: location, have: pieces, priorities: priorities, how: "resume")
        }
        let anyOnDisk = (0..<location.fileCount).contains { index in
            !location.isPadding[index] && ((try? FileStatus.of(location.path(of: index))) ?? nil) != nil
        }
        guard anyOnDisk else {
            return PreparedDownload(
                metainfo: metainfo, location: location, have: Bitfield(count: info.pieceCount), priorities: priorities, how: "new")
        }
        let report = DataVerifier.verify(metainfo, directory: directory, pool: pool) { _, _, done in
            progress(done, info.totalLength, "checking")
        }
        return PreparedDownload(
            metainfo: metainfo, location: location, have: report.goodPieces, priorities: priorities, how: "verified")
    }

}

/// Which files to download, as piece priorities.
public enum FileSelection {
    /// Piece priorities for a file selection: a piece is wanted if any wanted file has bytes in it.
    /// Globs match the path inside the torrent (`dir/file.ext`; `*` crosses `/`).
    public static func priorities(_ metainfo: Metainfo, only: [String], skip: [String]) throws(DownloadError) -> [UInt8]? {
        guard !only.isEmpty || !skip.isEmpty else { return nil }
        let info = metainfo.info
        var wanted = [UInt8](repeating: 0, count: info.pieceCount)
        var anyFile = false
        for (index, file) in info.files.enumerated() where !file.isPadding {
            let path = file.path.joined(separator: "/")
            let included = only.isEmpty || only.contains { fnmatch($0, path, 0) == 0 }
            let excluded = skip.contains { fnmatch($0, path, 0) == 0 }
            guard included && !excluded else { continue }
            anyFile = true
            guard let pieces = info.layout.pieces(of: FileIndex(index)) else { continue }
            for piece in pieces { wanted[piece.value] = 1 }
        }
        guard anyFile else { throw .noFileSelected }
        return wanted
    }
}

/// Why a download cannot start.
public enum DownloadError: Error, Sendable, CustomStringConvertible {
    /// --only / --skip left nothing to download.
    case noFileSelected

    public var description: String {
        switch self {
        case .noFileSelected: return "no file matches --only/--skip; run 'evtorrent info' to list the files"
        }
    }
}
