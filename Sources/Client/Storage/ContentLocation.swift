import TorrentCore

/// Where a torrent's files are on disk: one absolute path per file, in torrent order.
///
/// A torrent's own location keeps its folder (one string the daemon's torrents in it share) and
/// its info, and spells a file's path when asked: ten thousand torrents kept no path strings
/// (180 bytes each). What reads or writes often keeps the paths it needs (`TorrentStorage`).
public struct ContentLocation: Sendable {
    /// Files whose bytes are zeros by definition (BEP 47 padding) and are never read.
    public let isPadding: FileFlags
    private let source: Source

    private enum Source: Sendable {
        /// Each path given whole, laid out by `layout`.
        case listed([String], FileLayout)
        /// The torrent's own names in `directory` (`directory/name/...`).
        case named(directory: String, info: TorrentInfo)
        /// `directory/` followed by each of `names`.
        case renamed(directory: String, names: [String], info: TorrentInfo)
    }

    /// Byte-stream arithmetic over the files (the torrent's own, not a copy: a daemon's engine
    /// torrents keep their location inline).
    public var layout: FileLayout {
        switch source {
        case .listed(_, let layout): return layout
        case .named(_, let info), .renamed(_, _, let info): return info.layout
        }
    }

    /// Files at `paths` laid out by `layout`.
    public init(layout: FileLayout, paths: [String], isPadding: [Bool]? = nil) {
        precondition(paths.count == layout.fileCount)
        source = .listed(paths, layout)
        self.isPadding = FileFlags(isPadding ?? [])
    }

    /// Where `metainfo`'s content lives when downloaded into `directory` (the content is `directory/name`).
    public init(metainfo: Metainfo, directory: String) {
        let info = metainfo.info
        source = .named(directory: directory, info: info)
        isPadding = FileFlags(info.files.map(\.isPadding))
    }

    /// Where `metainfo`'s content lives in `directory` with its files renamed: `names` holds each
    /// file's path relative to `directory`, in torrent order (nil: the torrent's own names).
    public init(metainfo: Metainfo, directory: String, names: [String]?) {
        guard let names, names.count == metainfo.info.files.count else {
            self.init(metainfo: metainfo, directory: directory)
            return
        }
        self.init(source: .renamed(directory: directory, names: names, info: metainfo.info), isPadding: metainfo.info.files.map(\.isPadding))
    }

    private init(source: Source, isPadding: [Bool]) {
        self.source = source
        self.isPadding = FileFlags(isPadding)
    }

    /// How many files.
    public var fileCount: Int { layout.fileCount }

    /// File `index`'s path on disk.
    public func path(of index: Int) -> String {
        switch source {
        case .listed(let paths, _): return paths[index]
        case .named(let directory, let info):
            if info.isSingleFile { return directory + "/" + info.name }
            return ([directory, info.name] + info.files[index].path).joined(separator: "/")
        case .renamed(let directory, let names, _): return directory + "/" + names[index]
        }
    }

    /// Every file's path on disk, in torrent order (spelled when asked).
    public var paths: [String] {
        if case .listed(let paths, _) = source { return paths }
        return (0..<fileCount).map(path(of:))
    }

    /// Each file's path relative to the download directory, as the torrent names it.
    public static func names(of metainfo: Metainfo) -> [String] {
        metainfo.info.files.indices.map { metainfo.info.relativePath(of: FileIndex($0)).joined(separator: "/") }
    }
}

/// A flag per file, kept only if some file has it: most torrents have no padding files and keep
/// no array for it (one allocation fewer per torrent of ten thousand).
public struct FileFlags: Sendable {
    private let flags: [Bool]

    /// `flags` in file order (fewer than the files: the rest are false).
    public init(_ flags: [Bool]) { self.flags = flags.contains(true) ? flags : [] }

    /// The flag of file `index`.
    public subscript(index: Int) -> Bool { index < flags.count && flags[index] }
}
