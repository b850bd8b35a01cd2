/// Why a byte string is not valid bencode, and where (BEP 3, read strictly).
public struct BencodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Kind: Equatable, Sendable {
        /// The input ended inside a value.
        case truncated
        /// A byte that cannot start or continue a value here.
        case unexpectedByte(UInt8)
        /// An integer with a leading zero, `-0`, no digits, or a stray sign.
        case malformedInteger
        /// An integer beyond the signed 64-bit range.
        case integerOverflow
        /// A string length with a leading zero or no digits.
        case malformedLength
        /// A string longer than the bytes that are left.
        case lengthBeyondInput(Int)
        /// A dictionary key that is not a byte string.
        case nonStringKey
        /// Dictionary keys not in ascending byte order.
        case unsortedKeys
        /// The same dictionary key twice.
        case duplicateKey
        /// Lists and dictionaries nested deeper than the limit.
        case nestingTooDeep(limit: Int)
        /// The input is larger than the limit.
        case inputTooLarge(limit: Int)
        /// Bytes after the end of the top-level value.
        case trailingBytes
    }

    /// What is wrong.
    public let kind: Kind
    /// The byte offset in the input where the problem was found.
    public let offset: Int

    /// An error of `kind` at `offset`.
    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch kind {
        case .truncated: what = "input ends in the middle of a value"
        case .unexpectedByte(let byte): what = "unexpected byte \(BencodeError.show(byte))"
        case .malformedInteger: what = "malformed integer (leading zero, -0, or no digits)"
        case .integerOverflow: what = "integer does not fit in 64 bits"
        case .malformedLength: what = "malformed string length"
        case .lengthBeyondInput(let length): what = "string of \(length) bytes runs past the end of the input"
        case .nonStringKey: what = "dictionary key is not a string"
        case .unsortedKeys: what = "dictionary keys are not sorted"
        case .duplicateKey: what = "dictionary key appears twice"
        case .nestingTooDeep(let limit): what = "lists and dictionaries nested deeper than \(limit)"
        case .inputTooLarge(let limit): what = "input larger than \(limit) bytes"
        case .trailingBytes: what = "extra bytes after the end of the value"
        }
        return "invalid bencode at byte \(offset): \(what)"
    }

    private static func show(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        let hex = String(byte, radix: 16)
        return "0x" + (hex.count == 1 ? "0" + hex : hex)
    }
}
