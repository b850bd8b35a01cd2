/// A decoded bencode value (BEP 3).
///
/// Byte strings stay bytes: torrent names, paths and piece hashes are not guaranteed to be UTF-8.
/// Dictionaries keep their keys sorted as raw bytes, which is the order the strict decoder accepts
/// and the canonical encoder writes.
public enum BencodeValue: Equatable, Hashable, Sendable {
    /// `i<digits>e`, a signed 64-bit integer.
    case integer(Int64)
    /// `<length>:<bytes>`.
    case bytes([UInt8])
    /// `l<values>e`.
    case list([BencodeValue])
    /// `d<key value ...>e`, with unique keys in ascending byte order.
    case dictionary(BencodeDictionary)

    /// A byte-string value made from UTF-8 text.
    public static func string(_ text: String) -> BencodeValue { .bytes(Array(text.utf8)) }

    /// The integer, if this is one.
    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The bytes, if this is a byte string.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The bytes decoded as UTF-8, if this is a byte string holding valid UTF-8.
    public var stringValue: String? {
        guard case .bytes(let value) = self else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The elements, if this is a list.
    public var listValue: [BencodeValue]? {
        if case .list(let value) = self { return value }
        return nil
    }

    /// The dictionary, if this is one.
    public var dictionaryValue: BencodeDictionary? {
        if case .dictionary(let value) = self { return value }
        return nil
    }
}

/// A bencode dictionary: entries sorted by key bytes, keys unique.
public struct BencodeDictionary: Equatable, Hashable, Sendable {
    /// The entries in ascending key order.
    public private(set) var entries: [(key: [UInt8], value: BencodeValue)]

    /// An empty dictionary.
    public init() { entries = [] }

    /// A dictionary from entries in any order; a later duplicate key replaces an earlier one.
    public init(_ pairs: [(String, BencodeValue)]) {
        entries = []
        for (key, value) in pairs { self[key] = value }
    }

    /// Entries already known to be sorted and unique (the decoder checks this as it reads).
    init(sortedUniqueEntries: [(key: [UInt8], value: BencodeValue)]) {
        entries = sortedUniqueEntries
    }

    /// The value for a raw byte key.
    public subscript(key: [UInt8]) -> BencodeValue? {
        get {
            let index = insertionIndex(of: key)
            guard index < entries.count, entries[index].key == key else { return nil }
            return entries[index].value
        }
        set {
            let index = insertionIndex(of: key)
            let present = index < entries.count && entries[index].key == key
            switch (present, newValue) {
            case (true, .some(let value)): entries[index].value = value
            case (true, .none): entries.remove(at: index)
            case (false, .some(let value)): entries.insert((key, value), at: index)
            case (false, .none): break
            }
        }
    }

    /// The value for a UTF-8 text key (looked up without copying the key: parsers ask for many).
    public subscript(key: String) -> BencodeValue? {
        get {
            var key = key
            return key.withUTF8 { utf8 in
                let index = insertionIndex(of: utf8)
                guard index < entries.count, entries[index].key.elementsEqual(utf8) else { return nil }
                return entries[index].value
            }
        }
        set { self[Array(key.utf8)] = newValue }
    }

    /// The number of entries.
    public var count: Int { entries.count }

    private func insertionIndex<Key: Sequence<UInt8>>(of key: Key) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].key.lexicographicallyPrecedes(key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    public static func == (lhs: BencodeDictionary, rhs: BencodeDictionary) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries.count)
        for entry in entries {
            hasher.combine(entry.key)
            hasher.combine(entry.value)
        }
    }
}
