import Reactor
import TorrentCore

/// Keeps `<infohash>.resume` files in a session directory, written atomically (DESIGN §6).
public struct ResumeStore: Equatable, Sendable {
    /// The directory (created on first save).
    public let directory: String

    /// A store in `directory`.
    public init(directory: String) { self.directory = directory }

    /// The default: `$XDG_DATA_HOME/evtorrent` or `~/.local/share/evtorrent`.
    public static func defaultDirectory(environment: [String: String]) -> String {
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return data + "/evtorrent" }
        return (environment["HOME"] ?? "/tmp") + "/.local/share/evtorrent"
    }

    /// The largest resume file read.
    public static let maxResumeBytes = 64 << 20

    private func path(_ infoHash: InfoHash) -> String { "\(directory)/\(infoHash.hex).resume" }

    /// Where a magnet's fetched metadata is kept, as a .torrent file.
    public func torrentPath(_ infoHash: InfoHash) -> String { "\(directory)/\(infoHash.hex).torrent" }

    /// Keeps a magnet's fetched torrent: the same magnet later starts from it without fetching.
    public func saveTorrent(_ file: [UInt8], infoHash: InfoHash) throws(SystemError) {
        try FileContents.makeDirectories(directory)
        try FileContents.writeAtomically(file, to: torrentPath(infoHash))
    }

    /// The torrent kept for a magnet, if it is there and is that torrent.
    public func savedTorrent(_ infoHash: InfoHash) -> Metainfo? {
        guard let metainfo = try? MetainfoLoader.load(torrentPath(infoHash)), metainfo.infoHash == infoHash else { return nil }
        return metainfo
    }

    /// The current size and mtime of every file (missing files as size -1).
    public static func fileStates(_ location: ContentLocation) -> [ResumeData.FileState] {
        location.paths.map { path in
            let status = try? FileStatus.of(path)
            return ResumeData.FileState(size: status?.size ?? -1, modificationTime: status?.modificationTime ?? 0)
        }
    }

    /// Saved resume data for `metainfo`, if present and intact.
    public func load(_ metainfo: Metainfo) -> ResumeData? {
        guard let bytes = try? FileContents.read(path(metainfo.infoHash), limit: Self.maxResumeBytes) else { return nil }
        return Self.decode(bytes, for: metainfo)
    }

    private static func decode(_ bytes: [UInt8], for metainfo: Metainfo) -> ResumeData? {
        ResumeData(bencoded: bytes, infoHash: metainfo.infoHash, pieceCount: metainfo.info.pieceCount, fileCount: metainfo.info.files.count)
    }

    /// Saves `data`, creating the directory if needed.
    public func save(_ data: ResumeData) throws(SystemError) {
        try FileContents.makeDirectories(directory)
        try FileContents.writeAtomically(data.encoded(), to: path(data.infoHash))
    }

    /// The verified pieces to trust without hashing: the saved bitfield if every file still has
    /// the size and mtime it was verified at; nil means verify.
    public func trustedPieces(_ metainfo: Metainfo, location: ContentLocation) -> Bitfield? {
        if case .trusted(let pieces) = verdict(metainfo, location: location) { return pieces }
        return nil
    }

    /// What the saved resume data of a torrent is worth.
    public enum Verdict: Equatable, Sendable {
        /// Every file is as it was: these pieces need no check.
        case trusted(Bitfield)
        /// There is no resume file.
        case missing
        /// There is one, but it cannot be read or is not this torrent's.
        case corrupt
        /// A file's size or mtime changed since it was written.
        case filesChanged
        /// It was written while a download was writing and the process did not stop in order
        /// after it: the files may not hold what it says.
        case unclean

        /// Why the data is checked instead of trusted, for the log (nil: trusted, or nothing to trust).
        public var recheckReason: String? {
            switch self {
            case .trusted, .missing: return nil
            case .corrupt: return "its resume file is corrupt"
            case .filesChanged: return "a file changed since its resume file was written"
            case .unclean: return "it was downloading when the last run ended without an orderly stop"
            }
        }
    }

    /// Whether the resume data of `metainfo` can be trusted, and if not why.
    public func verdict(_ metainfo: Metainfo, location: ContentLocation) -> Verdict {
        Self.verdict(metainfo, location: location) { () throws(SystemError) in
            try FileContents.read(path(metainfo.infoHash), limit: Self.maxResumeBytes)
        }
    }

    /// What resume data read by `read` (from this store's file, or from elsewhere) is worth:
    /// `read` failing with "not found" means there is none, any other failure that it is corrupt.
    public static func verdict(
        _ metainfo: Metainfo, location: ContentLocation, read: () throws(SystemError) -> [UInt8]
    ) -> Verdict {
        let bytes: [UInt8]
        do { bytes = try read() } catch { return error.isNotFound ? .missing : .corrupt }
        guard let saved = decode(bytes, for: metainfo) else { return .corrupt }
        guard saved.files == fileStates(location) else { return .filesChanged }
        return saved.clean ? .trusted(saved.pieces) : .unclean
    }
}
