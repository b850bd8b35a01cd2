/// Why a peer's bytes are not a valid BitTorrent stream. Always the peer's fault: close it.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A length prefix over the limit, checked before anything is buffered.
    case messageTooLong(length: Int, limit: Int)
    /// A message whose length does not fit its id.
    case malformed(id: UInt8, length: Int)
    /// The handshake is not BitTorrent's.
    case badHandshake(String)

    public var description: String {
        switch self {
        case .messageTooLong(let length, let limit): return "message of \(length) bytes exceeds the \(limit)-byte limit"
        case .malformed(let id, let length): return "message id \(id) with an invalid length \(length)"
        case .badHandshake(let reason): return "bad handshake: \(reason)"
        }
    }
}

/// Cuts a byte stream into `PeerMessage`s (BEP 3 framing): 4-byte big-endian length, then id and
/// payload. The length is checked against `maxMessageLength` as soon as its four bytes are there.
public struct PeerMessageDecoder: Sendable {
    /// The largest message accepted: a 128 KiB block plus header, or a bitfield for every piece.
    public let maxMessageLength: Int

    /// A decoder for a torrent of `pieceCount` pieces.
    public init(pieceCount: Int) {
        maxMessageLength = max(128 << 10 + 9, 1 + (pieceCount + 7) / 8, 256 << 10)
    }

    /// A decoder with an explicit limit.
    public init(maxMessageLength: Int) { self.maxMessageLength = maxMessageLength }

    /// The next complete message, or nil if more bytes are needed; consumed bytes leave `queue`.
    public func next(from queue: inout ByteQueue) throws(WireError) -> PeerMessage? {
        guard queue.count >= 4 else { return nil }
        let length = Int(readUInt32(queue.peek(4), at: 0))
        try check(length: length)
        guard queue.count >= 4 + length else { return nil }
        queue.skip(4)
        if length == 0 { return .keepAlive }
        let id = queue[0]
        let body = queue.take(length).dropFirst()
        return try Self.message(id: id, body: body, length: length)
    }

    /// Decodes one whole frame, length prefix included, read in place by the caller (no copy into
    /// a queue). The prefix must match the frame's size.
    public func message(frame: UnsafeRawBufferPointer) throws(WireError) -> PeerMessage {
        let length = frame.count - 4
        precondition(length >= 0 && Int(readUInt32(frame, at: 0)) == length, "not one whole frame")
        try check(length: length)
        if length == 0 { return .keepAlive }
        return try Self.message(id: frame[4], body: frame[5...], length: length)
    }

    /// The whole Request messages at the front of `bytes`, one after another, each handed to
    /// `each` (a seeder's hot path: a leecher's pipelined requests arrive in runs). Stops at the
    /// first other message, a partial one, or when `each` returns false; returns how many bytes
    /// the requests took. Decodes exactly as `message(frame:)` does for a request.
    public static func requests(in bytes: UnsafeRawBufferPointer, _ each: (BlockRequest) -> Bool) -> Int {
        var offset = 0
        while bytes.count - offset >= 17, readUInt32(bytes, at: offset) == 13, bytes[offset + 4] == PeerMessage.ID.request {
            let request = BlockRequest(
                piece: PieceIndex(Int(readUInt32(bytes, at: offset + 5))), offset: Int(readUInt32(bytes, at: offset + 9)),
                length: Int(readUInt32(bytes, at: offset + 13)))
            offset += 17
            guard each(request) else { break }
        }
        return offset
    }

    /// Throws if a message of `length` bytes (after the prefix) is over the limit: callers that
    /// read the prefix themselves check it before buffering the rest.
    public func check(length: Int) throws(WireError) {
        guard length <= maxMessageLength else { throw .messageTooLong(length: length, limit: maxMessageLength) }
    }

    /// How many more bytes `queue` needs to hold its first message whole (the length prefix
    /// first); 0 when it does.
    public func bytesMissing(in queue: ByteQueue) -> Int {
        guard queue.count >= 4 else { return 4 - queue.count }
        return max(0, 4 + Int(readUInt32(queue.peek(4), at: 0)) - queue.count)
    }

    private static func message<Body: RandomAccessCollection<UInt8>>(
        id: UInt8, body: Body, length: Int
    ) throws(WireError) -> PeerMessage where Body.Index == Int {
        typealias ID = PeerMessage.ID
        func expect(_ size: Int) throws(WireError) {
            if body.count != size { throw .malformed(id: id, length: length) }
        }
        func block() throws(WireError) -> BlockRequest {
            try expect(12)
            return BlockRequest(
                piece: PieceIndex(Int(readUInt32(body, at: 0))), offset: Int(readUInt32(body, at: 4)),
                length: Int(readUInt32(body, at: 8)))
        }
        func index() throws(WireError) -> PieceIndex {
            try expect(4)
            return PieceIndex(Int(readUInt32(body, at: 0)))
        }
        switch id {
        case ID.choke: try expect(0); return .choke
        case ID.unchoke: try expect(0); return .unchoke
        case ID.interested: try expect(0); return .interested
        case ID.notInterested: try expect(0); return .notInterested
        case ID.have: return .have(try index())
        case ID.bitfield: return .bitfield(Array(body))
        case ID.request: return .request(try block())
        case ID.piece:
            guard body.count >= 8 else { throw .malformed(id: id, length: length) }
            let request = BlockRequest(
                piece: PieceIndex(Int(readUInt32(body, at: 0))), offset: Int(readUInt32(body, at: 4)),
                length: body.count - 8)
            // From a queue the block stays a slice of its storage; from a raw frame it is copied.
            let data = body.dropFirst(8)
            return .piece(request, data as? ArraySlice<UInt8> ?? ArraySlice(data))
        case ID.cancel: return .cancel(try block())
        case ID.port:
            try expect(2)
            return .port(UInt16(body[body.startIndex]) << 8 | UInt16(body[body.startIndex + 1]))
        case ID.suggest: return .suggestPiece(try index())
        case ID.haveAll: try expect(0); return .haveAll
        case ID.haveNone: try expect(0); return .haveNone
        case ID.reject: return .rejectRequest(try block())
        case ID.allowedFast: return .allowedFast(try index())
        case ID.extended:
            guard let first = body.first else { throw .malformed(id: id, length: length) }
            return .extended(id: first, payload: Array(body.dropFirst()))
        default: return .unknown(id: id, payload: Array(body))
        }
    }
}
