/// One bit per piece, high bit of the first byte for piece 0 (BEP 3 `bitfield`).
public struct Bitfield: Equatable, Hashable, Sendable {
    /// The packed bits; spare bits at the end are always zero.
    public private(set) var bytes: [UInt8]
    /// How many pieces the field covers.
    public let count: Int

    /// A field of `count` bits, all clear (or all set if `allSet`).
    public init(count: Int, allSet: Bool = false) {
        precondition(count >= 0)
        self.count = count
        bytes = [UInt8](repeating: allSet ? 0xFF : 0, count: (count + 7) / 8)
        if allSet { clearSpareBits() }
    }

    /// A field from wire bytes; nil if the length is wrong or a spare bit is set (BEP 3 says drop the peer).
    public init?(bytes: [UInt8], count: Int) {
        guard bytes.count == (count + 7) / 8 else { return nil }
        self.count = count
        self.bytes = bytes
        let spare = bytes.count * 8 - count
        if spare > 0, bytes[bytes.count - 1] & UInt8(truncatingIfNeeded: (1 << spare) - 1) != 0 { return nil }
    }

    /// Whether `piece` is set.
    public subscript(piece: PieceIndex) -> Bool {
        get {
            precondition(piece.value >= 0 && piece.value < count, "piece \(piece) out of range")
            return bytes[piece.value >> 3] & (0x80 >> UInt8(piece.value & 7)) != 0
        }
        set {
            precondition(piece.value >= 0 && piece.value < count, "piece \(piece) out of range")
            let mask: UInt8 = 0x80 >> UInt8(piece.value & 7)
            if newValue { bytes[piece.value >> 3] |= mask } else { bytes[piece.value >> 3] &= ~mask }
        }
    }

    /// Sets every bit set in `other` (same count).
    public mutating func formUnion(_ other: Bitfield) {
        precondition(other.count == count)
        for index in bytes.indices { bytes[index] |= other.bytes[index] }
    }

    /// Clears every bit set in `other` (same count).
    public mutating func subtract(_ other: Bitfield) {
        precondition(other.count == count)
        for index in bytes.indices { bytes[index] &= ~other.bytes[index] }
    }

    /// How many bits are set.
    public var setCount: Int { bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
    /// Whether every bit is set.
    public var isFull: Bool { setCount == count }
    /// Whether no bit is set.
    public var isEmpty: Bool { bytes.allSatisfy { $0 == 0 } }

    private mutating func clearSpareBits() {
        let spare = bytes.count * 8 - count
        if spare > 0 { bytes[bytes.count - 1] &= ~UInt8(truncatingIfNeeded: (1 << spare) - 1) }
    }
}
