/// Limits that keep hostile bencode from exhausting the stack or memory.
public struct BencodeLimits: Sendable, Equatable {
    /// How deep lists and dictionaries may nest (a torrent needs about 5).
    public var maxDepth: Int
    /// How many bytes the whole input may have.
    public var maxInputBytes: Int
    /// Whether dictionary keys may come in any order (they are sorted as read; a key twice is
    /// still refused). Real .torrent files have them unsorted at times, and libtorrent and
    /// Transmission take them, hashing `info` as found; `create` and `info --strict` do not.
    public var allowsUnsortedKeys = false

    /// An explicit set of limits.
    public init(maxDepth: Int, maxInputBytes: Int, allowsUnsortedKeys: Bool = false) {
        self.maxDepth = maxDepth
        self.maxInputBytes = maxInputBytes
        self.allowsUnsortedKeys = allowsUnsortedKeys
    }

    /// Generous for any real torrent file (the largest are tens of MiB), strict about nesting.
    public static let `default` = BencodeLimits(maxDepth: 64, maxInputBytes: 64 << 20)
}

/// Strict bencode decoding and canonical encoding (BEP 3).
///
/// The decoder accepts exactly one canonical form: integers without leading zeros or `-0`,
/// string lengths without leading zeros, dictionary keys unique and in ascending byte order, and
/// nothing after the value. Every error names the byte offset where it was found. No string is
/// allocated before its length has been checked against the bytes that remain, so memory use is
/// bounded by the input size.
public enum Bencode {
    /// Decodes one complete value; any bytes after it are an error.
    public static func decode(_ bytes: [UInt8], limits: BencodeLimits = .default) throws(BencodeError)
        -> BencodeValue
    {
        try whole(bytes, limits: limits, spans: false).value
    }

    /// Decodes one complete value and, if it is a dictionary, where each of its values lies in `bytes`.
    ///
    /// A torrent's info hash is the SHA-1 of the `info` value exactly as received; the span gives
    /// those bytes without encoding them again.
    public static func decodeWithSpans(_ bytes: [UInt8], limits: BencodeLimits = .default)
        throws(BencodeError) -> (value: BencodeValue, spans: BencodeSpans)
    {
        try whole(bytes, limits: limits, spans: true)
    }

    private static func whole(_ bytes: [UInt8], limits: BencodeLimits, spans: Bool) throws(BencodeError)
        -> (value: BencodeValue, spans: BencodeSpans)
    {
        guard bytes.count <= limits.maxInputBytes else {
            throw BencodeError(.inputTooLarge(limit: limits.maxInputBytes), at: 0)
        }
        var reader = Reader(bytes: bytes, maxDepth: limits.maxDepth, allowsUnsortedKeys: limits.allowsUnsortedKeys)
        reader.recordTopLevelSpans = spans
        let value = try reader.value(depth: 0)
        guard reader.position == bytes.count else { throw BencodeError(.trailingBytes, at: reader.position) }
        return (value, reader.spans)
    }

    /// Decodes the value at the start of `bytes` and says where it ends; bytes after it are left alone.
    ///
    /// For messages that carry a bencoded header followed by raw data (BEP 9 metadata pieces).
    public static func decodePrefix(_ bytes: [UInt8], limits: BencodeLimits = .default) throws(BencodeError)
        -> (value: BencodeValue, end: Int)
    {
        guard bytes.count <= limits.maxInputBytes else {
            throw BencodeError(.inputTooLarge(limit: limits.maxInputBytes), at: 0)
        }
        var reader = Reader(bytes: bytes, maxDepth: limits.maxDepth, allowsUnsortedKeys: limits.allowsUnsortedKeys)
        let value = try reader.value(depth: 0)
        return (value, reader.position)
    }

    /// The canonical encoding of `value`.
    public static func encode(_ value: BencodeValue) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    /// Appends the canonical encoding of `value` to `out`.
    public static func encode(_ value: BencodeValue, into out: inout [UInt8]) {
        switch value {
        case .integer(let number):
            out.append(UInt8(ascii: "i"))
            out.append(contentsOf: String(number).utf8)
            out.append(UInt8(ascii: "e"))
        case .bytes(let bytes):
            appendString(bytes, into: &out)
        case .list(let items):
            out.append(UInt8(ascii: "l"))
            for item in items { encode(item, into: &out) }
            out.append(UInt8(ascii: "e"))
        case .dictionary(let dictionary):
            out.append(UInt8(ascii: "d"))
            for entry in dictionary.entries {
                appendString(entry.key, into: &out)
                encode(entry.value, into: &out)
            }
            out.append(UInt8(ascii: "e"))
        }
    }

    private static func appendString(_ bytes: [UInt8], into out: inout [UInt8]) {
        out.append(contentsOf: String(bytes.count).utf8)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: bytes)
    }
}

/// Where each value of a top-level dictionary lies in the input, in the order read. A few entries
/// searched in order: a hashed table cost more than the rest of decoding a small resume file.
public struct BencodeSpans: Sendable {
    var entries: [(key: [UInt8], range: Range<Int>)] = []

    /// The byte range of the value under `key`.
    public subscript(key: [UInt8]) -> Range<Int>? { entries.first { $0.key == key }?.range }
}

/// A cursor over the input; one method per production of the grammar.
private struct Reader {
    let bytes: [UInt8]
    let maxDepth: Int
    let allowsUnsortedKeys: Bool
    var position = 0
    var recordTopLevelSpans = false
    var spans = BencodeSpans()

    init(bytes: [UInt8], maxDepth: Int, allowsUnsortedKeys: Bool) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.allowsUnsortedKeys = allowsUnsortedKeys
    }

    mutating func value(depth: Int) throws(BencodeError) -> BencodeValue {
        guard position < bytes.count else { throw BencodeError(.truncated, at: position) }
        switch bytes[position] {
        case UInt8(ascii: "i"): return .integer(try integer())
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .bytes(try string())
        case UInt8(ascii: "l"): return try list(depth: depth + 1)
        case UInt8(ascii: "d"): return try dictionary(depth: depth + 1)
        case let byte: throw BencodeError(.unexpectedByte(byte), at: position)
        }
    }

    /// `i` [-] digits `e`, canonical only.
    mutating func integer() throws(BencodeError) -> Int64 {
        let start = position
        position += 1  // 'i'
        var negative = false
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        var magnitude: UInt64 = 0
        while position < bytes.count, let digit = Reader.digit(bytes[position]) {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            if overflow1 || overflow2 { throw BencodeError(.integerOverflow, at: start) }
            magnitude = sum
            position += 1
        }
        guard position < bytes.count else { throw BencodeError(.truncated, at: position) }
        guard bytes[position] == UInt8(ascii: "e") else {
            throw BencodeError(.unexpectedByte(bytes[position]), at: position)
        }
        let digitCount = position - digitsStart
        if digitCount == 0 { throw BencodeError(.malformedInteger, at: start) }
        if bytes[digitsStart] == UInt8(ascii: "0") && (digitCount > 1 || negative) {
            throw BencodeError(.malformedInteger, at: start)
        }
        position += 1  // 'e'
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw BencodeError(.integerOverflow, at: start) }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw BencodeError(.integerOverflow, at: start) }
        return Int64(magnitude)
    }

    /// digits `:` bytes, with the length checked against what is left before anything is copied.
    mutating func string() throws(BencodeError) -> [UInt8] {
        let start = position
        var length = 0
        while position < bytes.count, let digit = Reader.digit(bytes[position]) {
            // A length beyond the input can never be satisfied; stop counting before it overflows.
            if length > bytes.count { throw BencodeError(.lengthBeyondInput(length), at: start) }
            length = length * 10 + digit
            position += 1
        }
        guard position < bytes.count else { throw BencodeError(.truncated, at: position) }
        guard bytes[position] == UInt8(ascii: ":") else {
            throw BencodeError(.unexpectedByte(bytes[position]), at: position)
        }
        if bytes[start] == UInt8(ascii: "0") && position - start > 1 {
            throw BencodeError(.malformedLength, at: start)
        }
        position += 1  // ':'
        guard length <= bytes.count - position else { throw BencodeError(.lengthBeyondInput(length), at: start) }
        let result = Array(bytes[position..<position + length])
        position += length
        return result
    }

    mutating func list(depth: Int) throws(BencodeError) -> BencodeValue {
        guard depth <= maxDepth else { throw BencodeError(.nestingTooDeep(limit: maxDepth), at: position) }
        position += 1  // 'l'
        var items: [BencodeValue] = []
        while true {
            guard position < bytes.count else { throw BencodeError(.truncated, at: position) }
            if bytes[position] == UInt8(ascii: "e") { break }
            items.append(try value(depth: depth))
        }
        position += 1  // 'e'
        return .list(items)
    }

    mutating func dictionary(depth: Int) throws(BencodeError) -> BencodeValue {
        guard depth <= maxDepth else { throw BencodeError(.nestingTooDeep(limit: maxDepth), at: position) }
        position += 1  // 'd'
        var entries: [(key: [UInt8], value: BencodeValue)] = []
        var unsortedAt: Int?
        while true {
            guard position < bytes.count else { throw BencodeError(.truncated, at: position) }
            let keyStart = position
            switch bytes[position] {
            case UInt8(ascii: "e"):
                position += 1
                if let unsortedAt {
                    entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
                    for index in entries.indices.dropFirst() where entries[index].key == entries[index - 1].key {
                        throw BencodeError(.duplicateKey, at: unsortedAt)
                    }
                }
                return .dictionary(BencodeDictionary(sortedUniqueEntries: entries))
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                break
            default:
                throw BencodeError(.nonStringKey, at: position)
            }
            let key = try string()
            if let previous = entries.last?.key {
                if previous == key { throw BencodeError(.duplicateKey, at: keyStart) }
                if !previous.lexicographicallyPrecedes(key) {
                    guard allowsUnsortedKeys else { throw BencodeError(.unsortedKeys, at: keyStart) }
                    unsortedAt = unsortedAt ?? keyStart
                }
            }
            let valueStart = position
            let item = try value(depth: depth)
            if depth == 1 && recordTopLevelSpans { spans.entries.append((key, valueStart..<position)) }
            entries.append((key, item))
        }
    }

    static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }
}
