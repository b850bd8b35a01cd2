import TorrentCore

/// Where a torrent's files are on disk: one absolute path per file, in torrent order.
public struct ContentLocation: Sendable {
    /// Byte-stream arithmetic over the files.
    public let layout: FileLayout
    /// Each file's path on disk.
    public let paths: [String]
    /// Files whose bytes are zeros by definition (BEP 47 padding) and are never read.
    public let isPadding: FileFlags

    /// Files at `paths` laid out by `layout`.
    public init(layout: FileLayout, paths: [String], isPadding: [Bool]? = nil) {
        precondition(paths.count == layout.fileCount)
        self.layout = layout
        self.paths = paths
        self.isPadding = FileFlags(isPadding ?? [])
    }

    /// Where `metainfo`'s content lives when downloaded into `directory` (the content is `directory/name`).
    public init(metainfo: Metainfo, directory: String) {
        let info = metainfo.info
        let paths = info.files.indices.map { index in
            ([directory] + info.relativePath(of: FileIndex(index))).joined(separator: "/")
        }
        self.init(layout: info.layout, paths: paths, isPadding: info.files.map(\.isPadding))
    }

    /// Where `metainfo`'s content lives in `directory` with its files renamed: `names` holds each
    /// file's path relative to `directory`, in torrent order (nil: the torrent's own names).
    public init(metainfo: Metainfo, directory: String, names: [String]?) {
        guard let names, names.count == metainfo.info.files.count else {
            self.init(metainfo: metainfo, directory: directory)
            return
        }
        self.init(layout: metainfo.info.layout, paths: names.map { directory + "/" + $0 }, isPadding: metainfo.info.files.map(\.isPadding))
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
