/// One file of a torrent.
public struct TorrentFile: Equatable, Sendable {
    /// Path components below the torrent's name directory; empty for a single-file torrent.
    public let path: [String]
    /// The file's size in bytes.
    public let length: Int64
    /// BEP 47 attributes (`p` padding, `x` executable, `h` hidden, `l` symlink), empty if none.
    public let attributes: String

    /// A file at `path` of `length` bytes.
    public init(path: [String], length: Int64, attributes: String = "") {
        self.path = path
        self.length = length
        self.attributes = attributes
    }

    /// Whether this is a BEP 47 padding file, whose bytes are zeros and never stored.
    public var isPadding: Bool { attributes.utf8.contains(UInt8(ascii: "p")) }
}

/// The `info` dictionary: what the info hash covers.
///
/// Kept behind one reference, like `Metainfo`'s contents: a caller binding `let info = ...` (the
/// RPC's listing does so for every torrent) copies a pointer, not six arrays and strings.
public struct TorrentInfo: Equatable, Sendable {
    // The piece length is the layout's, and the flags come last: a daemon keeps ten thousand of
    // these, and each field between two others is padded to eight bytes.
    private struct Fields: Equatable, Sendable {
        let name: String
        let pieceHashes: ArraySlice<UInt8>
        /// The files as listed; empty for a single file without BEP 47 attributes (most
        /// torrents), which `files` makes when asked rather than each torrent keeping an array.
        let listedFiles: [TorrentFile]
        let source: String?
        let layout: FileLayout
        let isSingleFile: Bool
        let isPrivate: Bool
    }

    private final class Storage: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private let storage: Storage

    init(
        name: String, pieceLength: Int, pieceHashes: ArraySlice<UInt8>, files: [TorrentFile], isSingleFile: Bool, isPrivate: Bool,
        source: String?, layout: FileLayout
    ) {
        precondition(layout.pieceLength == pieceLength, "the layout is cut in the torrent's pieces")
        let plain = isSingleFile && files.count == 1 && files[0].path.isEmpty && files[0].attributes.isEmpty
        storage = Storage(
            Fields(
                name: name, pieceHashes: pieceHashes, listedFiles: plain ? [] : files, source: source, layout: layout,
                isSingleFile: isSingleFile, isPrivate: isPrivate))
    }

    /// The suggested name of the file (single-file) or top directory (multi-file).
    public var name: String { _read { yield storage.fields.name } }
    /// Bytes per piece.
    public var pieceLength: Int { storage.fields.layout.pieceLength }
    /// The concatenated 20-byte SHA-1 of every piece: a part of the metainfo's `infoBytes` when
    /// parsed from them (kept once: a big torrent's hashes are most of its metainfo).
    public var pieceHashes: ArraySlice<UInt8> { _read { yield storage.fields.pieceHashes } }
    /// The files in torrent order; one entry with an empty path for a single-file torrent.
    public var files: [TorrentFile] {
        let listed = storage.fields.listedFiles
        return listed.isEmpty ? [TorrentFile(path: [], length: storage.fields.layout.totalLength)] : listed
    }
    /// Whether the torrent was given as a single file (`length`) rather than a list (`files`).
    public var isSingleFile: Bool { storage.fields.isSingleFile }
    /// BEP 27: peers only from the torrent's trackers.
    public var isPrivate: Bool { storage.fields.isPrivate }
    /// The `source` tag private trackers use to make cross-seeded torrents distinct.
    public var source: String? { _read { yield storage.fields.source } }
    /// Byte-stream arithmetic over the files.
    public var layout: FileLayout { _read { yield storage.fields.layout } }

    public static func == (lhs: TorrentInfo, rhs: TorrentInfo) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    /// The number of pieces.
    public var pieceCount: Int { pieceHashes.count / 20 }
    /// The total size of all files.
    public var totalLength: Int64 { layout.totalLength }

    /// The expected SHA-1 of `piece`.
    public func hash(of piece: PieceIndex) -> ArraySlice<UInt8> {
        let start = pieceHashes.startIndex + piece.value * 20
        return pieceHashes[start..<start + 20]
    }

    /// A file's path relative to the download directory, starting with the torrent's name.
    public func relativePath(of file: FileIndex) -> [String] {
        isSingleFile ? [name] : [name] + files[file.value].path
    }
}

/// A parsed .torrent file (BEP 3, with BEP 12 tiers, BEP 19 web seeds and BEP 27 private flag).
///
/// Its contents are kept once, behind a reference: the engine's torrent, its storage and every
/// loader step copy a metainfo, and a daemon holds thousands (inline it was 169 bytes, each copy
/// a dozen retains).
public struct Metainfo: Sendable {
    private final class Contents: Sendable {
        let info: TorrentInfo
        let infoBytes: [UInt8]
        let infoHash: InfoHash
        let trackerTiers: [[String]]
        let webSeeds: [String]
        let comment: String?
        let createdBy: String?
        let creationDate: Int64?

        init(
            info: TorrentInfo, infoBytes: [UInt8], infoHash: InfoHash, trackerTiers: [[String]], webSeeds: [String],
            comment: String?, createdBy: String?, creationDate: Int64?
        ) {
            self.info = info
            self.infoBytes = infoBytes
            self.infoHash = infoHash
            self.trackerTiers = trackerTiers
            self.webSeeds = webSeeds
            self.comment = comment
            self.createdBy = createdBy
            self.creationDate = creationDate
        }
    }

    // Read through `_read`: a caller reading `info.name` borrows the info in place instead of
    // copying it whole (a retain and a release of each of its arrays and strings).
    private let contents: Contents

    /// The `info` dictionary.
    public var info: TorrentInfo { _read { yield contents.info } }
    /// The exact bencoded bytes of `info` as received, from which the info hash is computed.
    public var infoBytes: [UInt8] { _read { yield contents.infoBytes } }
    /// SHA-1 of `infoBytes`.
    public var infoHash: InfoHash { contents.infoHash }
    /// Tracker tiers: `announce-list` if present, else `announce` as one tier.
    public var trackerTiers: [[String]] { _read { yield contents.trackerTiers } }
    /// BEP 19 web seed URLs.
    public var webSeeds: [String] { _read { yield contents.webSeeds } }
    /// Free text.
    public var comment: String? { _read { yield contents.comment } }
    /// The program that made the torrent.
    public var createdBy: String? { _read { yield contents.createdBy } }
    /// Seconds since 1970 when the torrent was made.
    public var creationDate: Int64? { contents.creationDate }

    /// All tracker URLs, tier by tier.
    public var trackers: [String] { trackerTiers.flatMap { $0 } }

    /// Parses and validates a .torrent file.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - sha1: computes a SHA-1 digest (supplied by the caller: this module does no hashing).
    ///   - strict: refuse dictionary keys out of order, as BEP 3 says, and two files at one path;
    ///     by default keys are taken as libtorrent and Transmission take them, the info hash
    ///     computed over the bytes as found, and a file whose path is taken is renamed as
    ///     libtorrent renames it (`bar.txt` → `bar.1.txt`).
    ///   - sharingTiers: gives back a copy of the tracker tiers kept already, if equal ones are
    ///     (a box of torrents from one tracker keeps its announce URLs once).
    public init(
        bencoded bytes: [UInt8], sha1: (ArraySlice<UInt8>) -> [UInt8], limits: BencodeLimits = .default, strict: Bool = false,
        sharingTiers share: ([[String]]) -> [[String]] = { $0 }
    ) throws(MetainfoError) {
        var limits = limits
        limits.allowsUnsortedKeys = !strict
        let decoded: (value: BencodeValue, spans: BencodeSpans)
        do { decoded = try Bencode.decodeWithSpans(bytes, limits: limits) } catch { throw .bencode(error) }
        guard let top = decoded.value.dictionaryValue else { throw .notADictionary }
        guard let infoValue = top["info"] else { throw .missingKey("info") }
        guard let infoDictionary = infoValue.dictionaryValue, let span = decoded.spans[Array("info".utf8)] else {
            throw .wrongType(key: "info", expected: "a dictionary")
        }
        let infoBytes = Array(bytes[span])
        let info = try TorrentInfo(parsing: infoDictionary, strict: strict, encoded: infoBytes)
        guard let hash = InfoHash(bytes: sha1(bytes[span])) else {
            preconditionFailure("the sha1 function must return 20 bytes")
        }
        contents = Contents(
            info: info, infoBytes: infoBytes, infoHash: hash, trackerTiers: share(Metainfo.tiers(in: top)),
            webSeeds: Metainfo.strings(top["url-list"]), comment: top["comment"]?.stringValue,
            createdBy: top["created by"]?.stringValue, creationDate: top["creation date"]?.integerValue)
    }

    /// BEP 12: `announce-list` wins over `announce`; entries that are not strings are skipped.
    private static func tiers(in top: BencodeDictionary) -> [[String]] {
        let listed = (top["announce-list"]?.listValue ?? []).compactMap { tier in
            tier.listValue.map { $0.compactMap(\.stringValue).filter { !$0.isEmpty } }
        }.filter { !$0.isEmpty }
        if !listed.isEmpty { return listed }
        if let announce = top["announce"]?.stringValue, !announce.isEmpty { return [[announce]] }
        return []
    }

    /// A string or a list of strings, as `url-list` may be either (BEP 19).
    private static func strings(_ value: BencodeValue?) -> [String] {
        switch value {
        case .bytes?: return value?.stringValue.map { $0.isEmpty ? [] : [$0] } ?? []
        case .list(let items)?: return items.compactMap { $0.stringValue }.filter { !$0.isEmpty }
        default: return []
        }
    }
}
