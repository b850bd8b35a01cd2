/// A block of a piece: the unit of requests (BEP 3), normally 16 KiB.
public struct BlockRequest: Hashable, Sendable, CustomStringConvertible {
    /// The piece.
    public let piece: PieceIndex
    /// Byte offset within the piece.
    public let offset: Int
    /// Bytes requested.
    public let length: Int

    /// The `length` bytes at `offset` in `piece`.
    public init(piece: PieceIndex, offset: Int, length: Int) {
        self.piece = piece
        self.offset = offset
        self.length = length
    }

    public var description: String { "piece \(piece) +\(offset) (\(length) bytes)" }
}

/// A peer wire message after the handshake (BEP 3, BEP 6 fast extension, BEP 10 extended).
public enum PeerMessage: Equatable, Sendable {
    /// A zero-length message that keeps the connection open.
    case keepAlive
    case choke
    case unchoke
    case interested
    case notInterested
    case have(PieceIndex)
    /// The sender's pieces; spare bits must be zero (checked against the piece count later).
    case bitfield([UInt8])
    case request(BlockRequest)
    /// A block's data; the request describes which.
    case piece(BlockRequest, ArraySlice<UInt8>)
    case cancel(BlockRequest)
    /// DHT port (BEP 5).
    case port(UInt16)
    /// BEP 6.
    case suggestPiece(PieceIndex)
    /// BEP 6: the sender has every piece.
    case haveAll
    /// BEP 6: the sender has no piece.
    case haveNone
    /// BEP 6: a request the sender will not serve.
    case rejectRequest(BlockRequest)
    /// BEP 6: a piece the receiver may request while choked.
    case allowedFast(PieceIndex)
    /// BEP 10: extension message `id` (0 is the extension handshake) with its payload.
    case extended(id: UInt8, payload: [UInt8])
    /// An id this client does not know; ignored, as BEP 3 asks.
    case unknown(id: UInt8, payload: [UInt8])

    /// Wire message ids.
    enum ID {
        static let choke: UInt8 = 0, unchoke: UInt8 = 1, interested: UInt8 = 2, notInterested: UInt8 = 3
        static let have: UInt8 = 4, bitfield: UInt8 = 5, request: UInt8 = 6, piece: UInt8 = 7, cancel: UInt8 = 8
        static let port: UInt8 = 9, suggest: UInt8 = 13, haveAll: UInt8 = 14, haveNone: UInt8 = 15
        static let reject: UInt8 = 16, allowedFast: UInt8 = 17, extended: UInt8 = 20
    }

    /// The message's bytes, length prefix included.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the message's bytes, length prefix included (BEP 3: big-endian UInt32 length).
    public func encode(into out: inout [UInt8]) {
        func header(_ id: UInt8, _ payloadLength: Int) {
            appendUInt32(UInt32(1 + payloadLength), to: &out)
            out.append(id)
        }
        func block(_ id: UInt8, _ request: BlockRequest) {
            header(id, 12)
            appendUInt32(UInt32(request.piece.value), to: &out)
            appendUInt32(UInt32(request.offset), to: &out)
            appendUInt32(UInt32(request.length), to: &out)
        }
        func index(_ id: UInt8, _ piece: PieceIndex) {
            header(id, 4)
            appendUInt32(UInt32(piece.value), to: &out)
        }
        switch self {
        case .keepAlive: appendUInt32(0, to: &out)
        case .choke: header(ID.choke, 0)
        case .unchoke: header(ID.unchoke, 0)
        case .interested: header(ID.interested, 0)
        case .notInterested: header(ID.notInterested, 0)
        case .have(let piece): index(ID.have, piece)
        case .bitfield(let bits):
            header(ID.bitfield, bits.count)
            out += bits
        case .request(let request): block(ID.request, request)
        case .piece(let request, let data):
            header(ID.piece, 8 + data.count)
            appendUInt32(UInt32(request.piece.value), to: &out)
            appendUInt32(UInt32(request.offset), to: &out)
            out += data
        case .cancel(let request): block(ID.cancel, request)
        case .port(let port):
            header(ID.port, 2)
            out.append(UInt8(port >> 8))
            out.append(UInt8(port & 0xFF))
        case .suggestPiece(let piece): index(ID.suggest, piece)
        case .haveAll: header(ID.haveAll, 0)
        case .haveNone: header(ID.haveNone, 0)
        case .rejectRequest(let request): block(ID.reject, request)
        case .allowedFast(let piece): index(ID.allowedFast, piece)
        case .extended(let id, let payload):
            header(ID.extended, 1 + payload.count)
            out.append(id)
            out += payload
        case .unknown(let id, let payload):
            header(id, payload.count)
            out += payload
        }
    }

    /// The id byte of a `piece` message (for readers that skip its payload without decoding).
    public static let pieceID: UInt8 = ID.piece

    /// The 13-byte header of a `piece` message carrying `length` bytes: the payload path writes
    /// this, then the block straight from the file.
    public static func pieceHeader(for request: BlockRequest) -> [UInt8] {
        var out: [UInt8] = []
        pieceHeader(for: request, into: &out)
        return out
    }

    /// Writes the header into `out`, replacing what it held: a reused buffer costs no allocation.
    /// Written in place (once per block served: appending byte by byte was 4 % of a seeder's
    /// instructions).
    public static func pieceHeader(for request: BlockRequest, into out: inout [UInt8]) {
        let length = UInt32(9 + request.length), piece = UInt32(request.piece.value), offset = UInt32(request.offset)
        if out.count != 13 { out = [UInt8](repeating: 0, count: 13) }
        out.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw[4] = ID.piece
            raw.storeBytes(of: piece.bigEndian, toByteOffset: 5, as: UInt32.self)
            raw.storeBytes(of: offset.bigEndian, toByteOffset: 9, as: UInt32.self)
        }
    }
}

func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
    out.append(UInt8(value >> 24))
    out.append(UInt8(value >> 16 & 0xFF))
    out.append(UInt8(value >> 8 & 0xFF))
    out.append(UInt8(value & 0xFF))
}

func readUInt32<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, at offset: Int) -> UInt32 where Bytes.Index == Int {
    let base = bytes.startIndex + offset
    return UInt32(bytes[base]) << 24 | UInt32(bytes[base + 1]) << 16 | UInt32(bytes[base + 2]) << 8
        | UInt32(bytes[base + 3])
}
