/// One bit per piece, high bit of the first byte for piece 0 (BEP 3 `bitfield`).
///
/// An all-clear field holds no storage until a bit is set: a seed keeps one per peer, and most
/// idle peers never announce a piece (10,000 of them on a 4,096-piece torrent would hold 5 MB of
/// zeros otherwise). An all-set field made so (a complete torrent's pieces, a seed's bitfield)
/// holds none either until a bit is cleared: a daemon's ten thousand seeding torrents keep no
/// array of ones each.
public struct Bitfield: Hashable, Sendable {
    /// The packed bits; empty while every bit is clear, or while every bit is set (`stored` < 0).
    /// Spare bits at the end are always zero.
    private var storage: [UInt8]
    /// How many pieces the field covers, or its complement (negative) in the all-set form.
    private var stored: Int

    /// How many pieces the field covers.
    public var count: Int { stored < 0 ? ~stored : stored }
    /// Whether it is in the all-set form, keeping no bits (tests).
    var isCompactFull: Bool { stored < 0 }

    /// A field of `count` bits, all clear (or all set if `allSet`).
    public init(count: Int, allSet: Bool = false) {
        precondition(count >= 0)
        stored = allSet && count > 0 ? ~count : count
        storage = []
    }

    /// A field from wire bytes; nil if the length is wrong or a spare bit is set (BEP 3 says drop the peer).
    public init?(bytes: [UInt8], count: Int) {
        guard bytes.count == (count + 7) / 8 else { return nil }
        let spare = bytes.count * 8 - count
        if spare > 0, bytes[bytes.count - 1] & UInt8(truncatingIfNeeded: (1 << spare) - 1) != 0 { return nil }
        stored = count
        storage = bytes
        if count > 0, setCount == count { self = Bitfield(count: count, allSet: true) }
    }

    /// The packed bits as sent on the wire.
    public var bytes: [UInt8] {
        if stored < 0 { return Self.ones(count: count) }
        return storage.isEmpty ? [UInt8](repeating: 0, count: byteCount) : storage
    }

    private var byteCount: Int { (count + 7) / 8 }

    /// Every bit of `count` set, spare bits clear.
    private static func ones(count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xFF, count: (count + 7) / 8)
        let spare = bytes.count * 8 - count
        if spare > 0 { bytes[bytes.count - 1] &= ~UInt8(truncatingIfNeeded: (1 << spare) - 1) }
        return bytes
    }

    /// Keeps the bits again (the all-set form is about to lose one).
    private mutating func expand() {
        storage = Self.ones(count: count)
        stored = ~stored
    }

    /// Whether `piece` is set.
    public subscript(piece: PieceIndex) -> Bool {
        get {
            precondition(piece.value >= 0 && piece.value < count, "piece \(piece) out of range")
            guard !storage.isEmpty else { return stored < 0 }
            return storage[piece.value >> 3] & (0x80 >> UInt8(piece.value & 7)) != 0
        }
        set {
            precondition(piece.value >= 0 && piece.value < count, "piece \(piece) out of range")
            if stored < 0 {
                guard !newValue else { return }
                expand()
            } else if storage.isEmpty {
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
        if stored < 0 { return }
        if other.stored < 0 {
            self = other
            return
        }
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
        if other.stored < 0 {
            self = Bitfield(count: count)
            return
        }
        guard !other.storage.isEmpty else { return }
        if stored < 0 { expand() }
        guard !storage.isEmpty else { return }
        for index in storage.indices { storage[index] &= ~other.storage[index] }
    }

    /// How many bits are set.
    public var setCount: Int { stored < 0 ? count : storage.reduce(0) { $0 + $1.nonzeroBitCount } }
    /// Whether every bit is set.
    public var isFull: Bool { stored < 0 || setCount == count }
    /// Whether no bit is set.
    public var isEmpty: Bool { stored >= 0 && storage.allSatisfy { $0 == 0 } }

    public static func == (lhs: Bitfield, rhs: Bitfield) -> Bool {
        lhs.count == rhs.count && ((lhs.stored == rhs.stored && lhs.storage == rhs.storage) || lhs.bytes == rhs.bytes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        hasher.combine(bytes)
    }
}
