/// What a torrent's `<infohash>.resume` file holds (DESIGN §6): the verified pieces and, for each
/// file, the size and modification time they were verified against, plus transfer totals.
public struct ResumeData: Equatable, Sendable {
    /// A file's size and modification time (seconds) when last verified.
    public struct FileState: Equatable, Sendable {
        public var size: Int64
        public var modificationTime: Int64
        /// A file state.
        public init(size: Int64, modificationTime: Int64) {
            self.size = size
            self.modificationTime = modificationTime
        }
    }

    public var infoHash: InfoHash
    /// Verified pieces.
    public var pieces: Bitfield
    /// One entry per file, in torrent order.
    public var files: [FileState]
    public var uploaded: Int64 = 0
    public var downloaded: Int64 = 0
    /// False when written while a download was writing its files: if the process dies then, the
    /// files may no longer hold what `pieces` says (a write cut short, a file truncated under it and
    /// extended again by later writes), so the next start checks the data instead of trusting it.
    /// Seeding torrents, finished downloads and orderly stops write true: a crashed box of
    /// thousands of seeding torrents rechecks none of them.
    public var clean = true

    /// Resume data from its parts.
    public init(infoHash: InfoHash, pieces: Bitfield, files: [FileState]) {
        self.infoHash = infoHash
        self.pieces = pieces
        self.files = files
    }

    /// The bencoded file.
    public func encoded() -> [UInt8] {
        Bencode.encode(
            .dictionary(
                BencodeDictionary([
                    ("clean", .integer(clean ? 1 : 0)), ("downloaded", .integer(downloaded)),
                    ("files", .list(files.map { .list([.integer($0.size), .integer($0.modificationTime)]) })),
                    ("info-hash", .bytes(infoHash.bytes)), ("piece-count", .integer(Int64(pieces.count))),
                    ("pieces", .bytes(pieces.bytes)), ("uploaded", .integer(uploaded)), ("version", .integer(1)),
                ])))
    }

    /// Reads a resume file for `infoHash` with `pieceCount` pieces and `fileCount` files; nil if it
    /// is damaged or belongs to something else (then the data is verified from scratch).
    public init?(bencoded bytes: [UInt8], infoHash: InfoHash, pieceCount: Int, fileCount: Int) {
        guard let value = try? Bencode.decode(bytes, limits: BencodeLimits(maxDepth: 8, maxInputBytes: 64 << 20)),
            let top = value.dictionaryValue, top["version"]?.integerValue == 1,
            top["info-hash"]?.bytesValue == infoHash.bytes, top["piece-count"]?.integerValue == Int64(pieceCount),
            let bits = top["pieces"]?.bytesValue, let pieces = Bitfield(bytes: bits, count: pieceCount),
            let list = top["files"]?.listValue, list.count == fileCount
        else { return nil }
        var files: [FileState] = []
        for entry in list {
            guard let pair = entry.listValue, pair.count == 2, let size = pair[0].integerValue,
                let time = pair[1].integerValue
            else { return nil }
            files.append(FileState(size: size, modificationTime: time))
        }
        self.init(infoHash: infoHash, pieces: pieces, files: files)
        uploaded = top["uploaded"]?.integerValue ?? 0
        downloaded = top["downloaded"]?.integerValue ?? 0
        clean = top["clean"]?.integerValue != 0
    }
}
