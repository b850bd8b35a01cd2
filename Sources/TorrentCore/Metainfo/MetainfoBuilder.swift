/// Everything needed to write a v1 .torrent file, once the pieces have been hashed.
///
/// The `info` dictionary holds only what mktorrent and libtorrent (v1-only) put there — `files` or
/// `length`, `name`, `piece length`, `pieces`, and `private`/`source` when set — so the same content
/// and piece length give the same info hash in all three.
public struct MetainfoBuilder: Sendable {
    /// The top-level name (file name for a single file, directory name otherwise).
    public var name: String
    /// Bytes per piece.
    public var pieceLength: Int
    /// Files in torrent order, paths relative to the name directory; nil for a single-file torrent.
    public var files: [TorrentFile]?
    /// For a single-file torrent, its length.
    public var singleFileLength: Int64
    /// The concatenated SHA-1 digests of every piece.
    public var pieceHashes: [UInt8] = []
    /// Tracker tiers (BEP 12); the first URL also goes into `announce`.
    public var trackerTiers: [[String]] = []
    /// BEP 19 web seeds.
    public var webSeeds: [String] = []
    /// BEP 27 private flag.
    public var isPrivate = false
    /// `source` tag inside `info`.
    public var source: String?
    /// Free text.
    public var comment: String?
    /// The program that made the torrent.
    public var createdBy: String?
    /// Seconds since 1970; nil leaves the key out for byte-identical output.
    public var creationDate: Int64?

    /// A single-file torrent.
    public init(singleFile name: String, length: Int64, pieceLength: Int) {
        self.name = name
        self.pieceLength = pieceLength
        self.files = nil
        self.singleFileLength = length
    }

    /// A multi-file torrent with files in the given order.
    public init(directory name: String, files: [TorrentFile], pieceLength: Int) {
        self.name = name
        self.pieceLength = pieceLength
        self.files = files
        self.singleFileLength = 0
    }

    /// The layout the pieces must be hashed over.
    public var layout: FileLayout {
        FileLayout(fileLengths: files.map { $0.map(\.length) } ?? [singleFileLength], pieceLength: pieceLength)
    }

    /// The bencoded `info` dictionary.
    public func infoDictionary() -> BencodeDictionary {
        var info = BencodeDictionary()
        if let files {
            info["files"] = .list(
                files.map { file in
                    .dictionary(
                        BencodeDictionary([("length", .integer(file.length)), ("path", .list(file.path.map(BencodeValue.string)))]))
                })
        } else {
            info["length"] = .integer(singleFileLength)
        }
        info["name"] = .string(name)
        info["piece length"] = .integer(Int64(pieceLength))
        info["pieces"] = .bytes(pieceHashes)
        if isPrivate { info["private"] = .integer(1) }
        if let source, !source.isEmpty { info["source"] = .string(source) }
        return info
    }

    /// The whole .torrent file.
    public func encode() -> [UInt8] {
        var top = BencodeDictionary()
        let trackers = trackerTiers.filter { !$0.isEmpty }
        if let first = trackers.first?.first { top["announce"] = .string(first) }
        if trackers.count > 1 || (trackers.first?.count ?? 0) > 1 {
            top["announce-list"] = .list(trackers.map { .list($0.map(BencodeValue.string)) })
        }
        if let comment, !comment.isEmpty { top["comment"] = .string(comment) }
        if let createdBy { top["created by"] = .string(createdBy) }
        if let creationDate { top["creation date"] = .integer(creationDate) }
        top["info"] = .dictionary(infoDictionary())
        if webSeeds.count == 1 {
            top["url-list"] = .string(webSeeds[0])
        } else if webSeeds.count > 1 {
            top["url-list"] = .list(webSeeds.map(BencodeValue.string))
        }
        return Bencode.encode(.dictionary(top))
    }

    /// A piece length for `totalLength` bytes: the smallest power of two from 16 KiB to 16 MiB that
    /// keeps the piece count at or under 2,048 (so 1 GiB gets 512 KiB pieces and a 40-byte-per-piece
    /// hash list stays small).
    public static func automaticPieceLength(forTotalLength totalLength: Int64) -> Int {
        var length = 16 << 10
        while length < 16 << 20 && (totalLength + Int64(length) - 1) / Int64(length) > 2048 { length <<= 1 }
        return length
    }
}
