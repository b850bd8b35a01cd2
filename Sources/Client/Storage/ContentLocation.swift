import TorrentCore

/// Where a torrent's files are on disk: one absolute path per file, in torrent order.
public struct ContentLocation: Sendable {
    /// Byte-stream arithmetic over the files.
    public let layout: FileLayout
    /// Each file's path on disk.
    public let paths: [String]
    /// Files whose bytes are zeros by definition (BEP 47 padding) and are never read.
    public let isPadding: [Bool]

    /// Files at `paths` laid out by `layout`.
    public init(layout: FileLayout, paths: [String], isPadding: [Bool]? = nil) {
        precondition(paths.count == layout.fileCount)
        self.layout = layout
        self.paths = paths
        self.isPadding = isPadding ?? [Bool](repeating: false, count: paths.count)
    }

    /// Where `metainfo`'s content lives when downloaded into `directory` (the content is `directory/name`).
    public init(metainfo: Metainfo, directory: String) {
        let info = metainfo.info
        let paths = info.files.indices.map { index in
            ([directory] + info.relativePath(of: FileIndex(index))).joined(separator: "/")
        }
        self.init(layout: info.layout, paths: paths, isPadding: info.files.map(\.isPadding))
    }
}
