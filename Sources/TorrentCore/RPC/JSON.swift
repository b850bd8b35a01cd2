/// A JSON value (RFC 8259), for the daemon's RPC: requests come in as bytes from anyone who can
/// reach the port, so parsing is strict and bounded like `Bencode` (depth, size, string length);
/// replies of ten thousand torrents are written straight into one byte array.
///
/// Objects keep their keys in order (a reply lists fields as asked); numbers keep whether they
/// were written as integers, so `"id": 7` stays 7, not 7.0.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSON])
    /// Members in the order written; a repeated key keeps its last value on lookup.
    case object([(String, JSON)])
    /// JSON text already encoded, written out as it is: a listing of ten thousand torrents is
    /// built straight into bytes rather than as a tree (never produced by parsing).
    case encoded([UInt8])

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.integer(let a), .double(let b)), (.double(let b), .integer(let a)): return Double(a) == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.encoded(let a), .encoded(let b)): return a == b
        default: return false
        }
    }

    /// The member `key` of an object (the last one if repeated), else nil.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as an integer, if it is a number with no fractional part in range.
    public var integerValue: Int64? {
        switch self {
        case .integer(let value): return value
        case .double(let value) where value.rounded() == value && abs(value) < 9.2e18: return Int64(value)
        default: return nil
        }
    }

    /// The value as a Double, if it is a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The Boolean, if this is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, if this is an object.
    public var objectValue: [(String, JSON)]? {
        if case .object(let value) = self { return value }
        return nil
    }
}

/// Why bytes are not acceptable JSON, with where it went wrong.
public enum JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended inside a value.
    case truncated
    /// A byte that cannot start or continue a value here.
    case unexpected(offset: Int)
    /// A number that is not RFC 8259's grammar, or out of Double's range.
    case badNumber(offset: Int)
    /// A bad escape, a lone surrogate, a control character or invalid UTF-8 in a string.
    case badString(offset: Int)
    /// More bytes after the value.
    case trailingBytes(offset: Int)
    /// Deeper nesting than the limit.
    case tooDeep
    /// More input than the limit.
    case tooLarge

    public var description: String {
        switch self {
        case .truncated: return "JSON ends in the middle of a value"
        case .unexpected(let offset): return "unexpected byte at offset \(offset)"
        case .badNumber(let offset): return "invalid number at offset \(offset)"
        case .badString(let offset): return "invalid string at offset \(offset)"
        case .trailingBytes(let offset): return "extra bytes after the JSON value at offset \(offset)"
        case .tooDeep: return "JSON nested too deep"
        case .tooLarge: return "JSON too large"
        }
    }
}

/// Bounds for parsing untrusted JSON.
public struct JSONLimits: Sendable {
    /// Nesting of arrays and objects.
    public var maxDepth = 32
    /// Input bytes.
    public var maxInputBytes = 16 << 20

    /// The defaults: 32 levels, 16 MiB (a base64 .torrent in `torrent-add` fits).
    public init() {}
}
