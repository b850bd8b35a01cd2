/// One bit per piece, high bit of the first byte for piece 0 (BEP 3 `bitfield`).
///
/// An all-clear field holds no storage until a bit is set: a seed keeps one per peer, and most
/// idle peers never announce a piece (10,000 of them on a 4,096-piece torrent would hold 5 MB of
/// zeros otherwise).
public struct Bitfield: Hashable, Sendable {
    /// The packed bits, or empty while every bit is clear; spare bits at the end are always zero.
    private var storage: [UInt8]
    /// How many pieces the field covers.
    public let count: Int

    /// A field of `count` bits, all clear (or all set if `allSet`).
    public init(count: Int, allSet: Bool = false) {
        precondition(count >= 0)
        self.count = count
        storage = []
        if allSet {
            storage = [UInt8](repeating: 0xFF, count: byteCount)
            clearSpareBits()
        }
    }

    /// A field from wire bytes; nil if the length is wrong or a spare bit is set (BEP 3 says drop the peer).
    public init?(bytes: [UInt8], count: Int) {
        guard bytes.count == (count + 7) / 8 else { return nil }
        self.count = count
        self.storage = bytes
        let spare = bytes.count * 8 - count
        if spare > 0, bytes[bytes.count - 1] & UInt8(truncatingIfNeeded: (1 << spare) - 1) != 0 { return nil }
    }

    /// The packed bits as sent on the wire.
    public var bytes: [UInt8] { storage.isEmpty ? [UInt8](repeating: 0, count: byteCount) : storage }

    private var byteCount: Int { (count + 7) / 8 }

    /// Whether `piece` is set.
    public subscript(piece: PieceIndex) -> Bool {
        get {
            precondition(piece.value >= 0 && piece.value < count, "piece \(piece) out of range")
            guard !storage.isEmpty else { return false }
            return storage[piece.value >> 3] & (0x80 >> UInt8(piece.value & 7)) != 0
        }
        set {
            precondition(piece.value >= 0 && piece.value < count, "piece \(piece) out of range")
            if storage.isEmpty {
                guard newValue else { return }
                storage = [UInt8](repeating: 0, count: byteCount)
            }
            let mask: UInt8 = 0x80 >> UInt8(piece.value & 7)
            if newValue { storage[piece.value >> 3] |= mask } else { storage[piece.value >> 3] &= ~mask }
        }
    }

    /// Sets every bit set in `other` (same count).
    public mutating func formUnion(_ other: Bitfield) {
        precondition(other.count == count)
        guard !other.storage.isEmpty else { return }
        guard !storage.isEmpty else {
            storage = other.storage
            return
        }
        for index in storage.indices { storage[index] |= other.storage[index] }
    }

    /// Clears every bit set in `other` (same count).
    public mutating func subtract(_ other: Bitfield) {
        precondition(other.count == count)
        guard !storage.isEmpty, !other.storage.isEmpty else { return }
        for index in storage.indices { storage[index] &= ~other.storage[index] }
    }

    /// How many bits are set.
    public var setCount: Int { storage.reduce(0) { $0 + $1.nonzeroBitCount } }
    /// Whether every bit is set.
    public var isFull: Bool { setCount == count }
    /// Whether no bit is set.
    public var isEmpty: Bool { storage.allSatisfy { $0 == 0 } }

    public static func == (lhs: Bitfield, rhs: Bitfield) -> Bool {
        lhs.count == rhs.count && (lhs.storage == rhs.storage || lhs.bytes == rhs.bytes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        hasher.combine(bytes)
    }

    private mutating func clearSpareBits() {
        let spare = storage.count * 8 - count
        if spare > 0 { storage[storage.count - 1] &= ~UInt8(truncatingIfNeeded: (1 << spare) - 1) }
    }
}
