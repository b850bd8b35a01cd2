/// BEP 9 (`ut_metadata`) messages, the payload of a BEP 10 extended message: a bencoded
/// dictionary (`msg_type` 0 request, 1 data, 2 reject; `piece`; for data `total_size`), followed
/// for data by the piece's raw bytes. Decoding never trusts a size it is given: pieces and totals
/// are checked against `MetadataMessage.maxSize` before anything is sized from them.
public enum MetadataMessage: Equatable, Sendable {
    case request(piece: Int)
    case data(piece: Int, totalSize: Int, bytes: ArraySlice<UInt8>)
    case reject(piece: Int)

    /// Metadata is sent in pieces of this size; only the last may be shorter.
    public static let pieceSize = 16_384
    /// The largest metadata accepted (libtorrent's cap is 30 MiB; a real info dict of 100,000
    /// files is a few MiB).
    public static let maxSize = 16 << 20

    /// Why a message was refused.
    public enum Failure: Error, Equatable, Sendable {
        case malformed(String)
    }

    /// How many pieces metadata of `size` bytes has (no empty last piece when the size is an
    /// exact multiple: rtorrent leechers re-requested one such empty piece 1,130 times in 8 s).
    public static func pieceCount(size: Int) -> Int { (size + pieceSize - 1) / pieceSize }

    /// The length of piece `index` of metadata of `size` bytes.
    public static func length(ofPiece index: Int, size: Int) -> Int {
        min(pieceSize, size - index * pieceSize)
    }

    /// Decodes an extended message's payload.
    public init(decoding payload: [UInt8]) throws(Failure) {
        let header: BencodeValue, end: Int
        do { (header, end) = try Bencode.decodePrefix(payload, limits: BencodeLimits(maxDepth: 4, maxInputBytes: Self.maxSize + 1024)) } catch {
            throw .malformed("not a bencoded dictionary: \(error)")
        }
        guard let dictionary = header.dictionaryValue, let type = dictionary["msg_type"]?.integerValue,
            let piece = dictionary["piece"]?.integerValue
        else { throw .malformed("missing msg_type or piece") }
        guard piece >= 0, piece < Int64(Self.pieceCount(size: Self.maxSize)) else { throw .malformed("piece \(piece) out of range") }
        switch type {
        case 0:
            self = .request(piece: Int(piece))
        case 1:
            guard let total = dictionary["total_size"]?.integerValue, total > 0, total <= Int64(Self.maxSize) else {
                throw .malformed("data without a total_size within 1...\(Self.maxSize)")
            }
            self = .data(piece: Int(piece), totalSize: Int(total), bytes: payload[end...])
        case 2:
            self = .reject(piece: Int(piece))
        default:
            throw .malformed("unknown msg_type \(type)")
        }
    }

    /// The extended message's payload.
    public func encoded() -> [UInt8] {
        switch self {
        case .request(let piece):
            return Bencode.encode(.dictionary(BencodeDictionary([("msg_type", .integer(0)), ("piece", .integer(Int64(piece)))])))
        case .data(let piece, let totalSize, let bytes):
            return Bencode.encode(.dictionary(BencodeDictionary([
                ("msg_type", .integer(1)), ("piece", .integer(Int64(piece))), ("total_size", .integer(Int64(totalSize))),
            ]))) + bytes
        case .reject(let piece):
            return Bencode.encode(.dictionary(BencodeDictionary([("msg_type", .integer(2)), ("piece", .integer(Int64(piece)))])))
        }
    }
}

/// Assembling one torrent's metadata (its info dictionary) from pieces that peers send, with no
/// I/O: which piece to ask a peer for next, what to do with each answer, and when the whole is
/// ready to be checked against the info hash (the caller hashes it, off the loop, and reports with
/// `verified`). The size comes from the first peer that advertises one within the cap; a peer
/// that disagrees is not asked; a piece of the wrong length is refused; a whole that does not hash
/// bans every peer that contributed to it and starts over.
public struct MetadataAssembly: Sendable {
    /// What the caller does next.
    public enum Outcome: Equatable, Sendable {
        /// Nothing yet.
        case none
        /// Every piece is in: hash these bytes and call `verified`.
        case check([UInt8])
        /// This peer sent something it should not have: drop it (and do not ask it again).
        case ban(PeerKey, String)
    }

    /// The metadata's size, once a peer advertised one.
    public private(set) var size: Int?
    private var pieces: [[UInt8]?] = []
    private var contributors: [Set<PeerKey>] = []
    /// Pieces asked for and from whom.
    private var asked: [Int: PeerKey] = [:]
    /// Peers that rejected a piece (not asked for it again until others are tried).
    private var rejected: [Int: Set<PeerKey>] = [:]
    /// Peers banned for this torrent's metadata.
    public private(set) var banned: Set<PeerKey> = []
    /// Whether the whole was handed out to be checked.
    public private(set) var checking = false

    public init() {}

    /// Pieces received so far, and of how many.
    public var progress: (have: Int, of: Int) { (pieces.filter { $0 != nil }.count, pieces.count) }

    /// A peer's extension handshake said `metadata_size` (0 or absent: it has none, as libtorrent
    /// says when it is fetching too). Returns false if the peer is of no use for the metadata.
    public mutating func peerAdvertised(_ peer: PeerKey, size advertised: Int?) -> Bool {
        guard let advertised, advertised > 0, advertised <= MetadataMessage.maxSize, !banned.contains(peer) else { return false }
        if let size { return size == advertised }
        size = advertised
        let count = MetadataMessage.pieceCount(size: advertised)
        pieces = [[UInt8]?](repeating: nil, count: count)
        contributors = [Set<PeerKey>](repeating: [], count: count)
        return true
    }

    /// The next piece to ask `peer` for (at most one outstanding per peer is the caller's choice),
    /// or nil when none is missing that this peer has not refused or someone else is fetching.
    public mutating func nextRequest(for peer: PeerKey) -> Int? {
        guard !checking, !banned.contains(peer), size != nil else { return nil }
        for index in pieces.indices where pieces[index] == nil && asked[index] == nil && !(rejected[index]?.contains(peer) ?? false) {
            asked[index] = peer
            return index
        }
        return nil
    }

    /// A peer answered, or left (`peerLeft`): its outstanding asks are free again.
    public mutating func peerLeft(_ peer: PeerKey) {
        for (index, owner) in asked where owner == peer { asked.removeValue(forKey: index) }
    }

    /// A BEP 9 message from `peer`.
    public mutating func received(_ message: MetadataMessage, from peer: PeerKey) -> Outcome {
        switch message {
        case .request:
            return .none  // serving is the caller's (it has the metadata or rejects)
        case .reject(let piece):
            if asked[piece] == peer { asked.removeValue(forKey: piece) }
            rejected[piece, default: []].insert(peer)
            return .none
        case .data(let piece, let totalSize, let bytes):
            guard let size, !checking else { return .none }
            guard asked[piece] == peer else { return .ban(peer, "sent metadata piece \(piece) it was not asked for") }
            asked.removeValue(forKey: piece)
            guard totalSize == size else { return .ban(peer, "says the metadata is \(totalSize) bytes, not \(size)") }
            guard piece < pieces.count, bytes.count == MetadataMessage.length(ofPiece: piece, size: size) else {
                return .ban(peer, "sent metadata piece \(piece) of \(bytes.count) bytes")
            }
            pieces[piece] = Array(bytes)
            contributors[piece].insert(peer)
            guard pieces.allSatisfy({ $0 != nil }) else { return .none }
            checking = true
            return .check(pieces.flatMap { $0! })
        }
    }

    /// The whole was hashed: true if it matched the info hash (then it is done). If not, every
    /// peer that sent a piece of it is banned (the list comes back) and the fetch starts over.
    public mutating func verified(_ ok: Bool) -> [PeerKey] {
        checking = false
        guard !ok else { return [] }
        let guilty = contributors.reduce(into: Set<PeerKey>()) { $0.formUnion($1) }
        banned.formUnion(guilty)
        pieces = [[UInt8]?](repeating: nil, count: pieces.count)
        contributors = [Set<PeerKey>](repeating: [], count: pieces.count)
        asked = [:]
        return guilty.sorted { $0.value < $1.value }
    }
}
