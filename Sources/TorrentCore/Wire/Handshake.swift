/// The 68-byte opening of every peer connection (BEP 3), with the reserved bits this client
/// reads and sets: BEP 10 extension protocol and BEP 6 fast extension.
public struct Handshake: Equatable, Sendable {
    /// `\x13BitTorrent protocol`: how a plaintext handshake starts.
    public static let protocolName: [UInt8] = [19] + Array("BitTorrent protocol".utf8)
    /// The handshake's length on the wire.
    public static let length = 68

    /// The 8 reserved bytes.
    public var reserved: [UInt8]
    /// Which torrent the peer means.
    public var infoHash: InfoHash
    /// The peer's id (20 bytes).
    public var peerID: [UInt8]

    /// A handshake announcing the extension protocol and the fast extension.
    public init(infoHash: InfoHash, peerID: [UInt8], extensions: Bool = true, fast: Bool = true) {
        precondition(peerID.count == 20)
        var reserved = [UInt8](repeating: 0, count: 8)
        if extensions { reserved[5] |= 0x10 }
        if fast { reserved[7] |= 0x04 }
        self.reserved = reserved
        self.infoHash = infoHash
        self.peerID = peerID
    }

    /// BEP 10: reserved byte 5, bit 0x10.
    public var supportsExtensions: Bool { reserved[5] & 0x10 != 0 }
    /// BEP 6: reserved byte 7, bit 0x04.
    public var supportsFast: Bool { reserved[7] & 0x04 != 0 }

    /// The 68 bytes.
    public func encoded() -> [UInt8] { Self.protocolName + reserved + infoHash.bytes + peerID }

    /// The handshake at the front of `queue`, or nil if not all 68 bytes are there yet. The
    /// protocol name is checked byte by byte as it arrives, so a stranger is refused early.
    public static func decode(from queue: inout ByteQueue) throws(WireError) -> Handshake? {
        let available = min(queue.count, protocolName.count)
        for offset in 0..<available where queue[offset] != protocolName[offset] {
            throw .badHandshake(offset == 0 ? "protocol name length \(queue[0]), expected 19" : "not the BitTorrent protocol")
        }
        guard queue.count >= length else { return nil }
        let bytes = Array(queue.take(length))
        return Handshake(
            reserved: Array(bytes[20..<28]), infoHash: InfoHash(bytes: Array(bytes[28..<48]))!, peerID: Array(bytes[48..<68]))
    }

    private init(reserved: [UInt8], infoHash: InfoHash, peerID: [UInt8]) {
        self.reserved = reserved
        self.infoHash = infoHash
        self.peerID = peerID
    }
}

/// Peer ids in the Azureus style BEP 20 describes: `-EV0100-` and 12 random bytes.
public enum PeerID {
    /// The client prefix.
    public static let prefix = Array("-EV0100-".utf8)

    /// A fresh id using `generator` for the random part.
    public static func generate(using generator: inout some RandomNumberGenerator) -> [UInt8] {
        prefix + (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}

/// The BEP 10 extension handshake (extended message id 0).
public struct ExtensionHandshake: Equatable, Sendable {
    /// Extension names to the message ids the sender wants to receive them as (`m`).
    public var messages: [String: Int] = [:]
    /// Client name and version (`v`).
    public var client: String?
    /// Requests the sender will queue without dropping (`reqq`).
    public var requestQueueLength: Int?
    /// The sender's listen port (`p`).
    public var listenPort: Int?
    /// The receiver's address as the sender sees it (`yourip`, 4 or 16 bytes).
    public var yourIP: [UInt8]?
    /// BEP 21: the sender will not download (a seed or partial seed).
    public var uploadOnly = false
    /// BEP 9: the size of the info dictionary, if the sender offers it.
    public var metadataSize: Int?

    /// An empty handshake.
    public init() {}

    /// Reads a handshake payload; unknown keys and wrong types are ignored, as BEP 10 asks.
    public init(payload: [UInt8]) throws(BencodeError) {
        let value = try Bencode.decode(payload, limits: BencodeLimits(maxDepth: 8, maxInputBytes: 64 << 10))
        let dictionary = value.dictionaryValue ?? BencodeDictionary()
        for entry in dictionary["m"]?.dictionaryValue?.entries ?? [] {
            if let id = entry.value.integerValue, id >= 0, id <= 255 {
                messages[String(decoding: entry.key, as: UTF8.self)] = Int(id)
            }
        }
        client = dictionary["v"]?.stringValue
        requestQueueLength = dictionary["reqq"]?.integerValue.map { Int(clamping: $0) }
        listenPort = dictionary["p"]?.integerValue.map { Int(clamping: $0) }
        yourIP = dictionary["yourip"]?.bytesValue.flatMap { $0.count == 4 || $0.count == 16 ? $0 : nil }
        uploadOnly = (dictionary["upload_only"]?.integerValue ?? 0) != 0
        metadataSize = dictionary["metadata_size"]?.integerValue.map { Int(clamping: $0) }
    }

    /// The bencoded payload.
    public func payload() -> [UInt8] {
        var dictionary = BencodeDictionary()
        dictionary["m"] = .dictionary(BencodeDictionary(messages.map { ($0.key, .integer(Int64($0.value))) }))
        if let client { dictionary["v"] = .string(client) }
        if let requestQueueLength { dictionary["reqq"] = .integer(Int64(requestQueueLength)) }
        if let listenPort { dictionary["p"] = .integer(Int64(listenPort)) }
        if let yourIP { dictionary["yourip"] = .bytes(yourIP) }
        if uploadOnly { dictionary["upload_only"] = .integer(1) }
        if let metadataSize { dictionary["metadata_size"] = .integer(Int64(metadataSize)) }
        return Bencode.encode(.dictionary(dictionary))
    }
}
