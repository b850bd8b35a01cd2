/// Why compressed bytes cannot be expanded.
public enum InflateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data ended early.
    case truncated
    /// The data breaks the format.
    case invalid(String)
    /// Expanding would exceed the allowed size (a decompression bomb, or just too big).
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case .truncated: return "compressed data ends early"
        case .invalid(let what): return "invalid compressed data: \(what)"
        case .tooLarge(let limit): return "compressed data expands past \(limit) bytes"
        }
    }
}

/// gzip (RFC 1952) around DEFLATE (RFC 1951), decoding only: for HTTP trackers that answer with
/// `Content-Encoding: gzip`. Pure Swift in the manner of zlib's puff.c (canonical Huffman codes
/// decoded a bit at a time), which is plenty for tracker responses of a few KiB. Output is capped.
public enum Gzip {
    /// The bytes inside a gzip member, checked against its CRC-32 and length.
    public static func decompress(_ data: [UInt8], limit: Int) throws(InflateError) -> [UInt8] {
        guard data.count >= 18 else { throw .truncated }
        guard data[0] == 0x1F, data[1] == 0x8B else { throw .invalid("not gzip") }
        guard data[2] == 8 else { throw .invalid("compression method \(data[2])") }
        let flags = data[3]
        guard flags & 0xE0 == 0 else { throw .invalid("reserved flags") }
        var position = 10
        if flags & 0x04 != 0 {  // FEXTRA
            guard position + 2 <= data.count else { throw .truncated }
            position += 2 + (Int(data[position]) | Int(data[position + 1]) << 8)
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT: zero-terminated
            while position < data.count && data[position] != 0 { position += 1 }
            position += 1
        }
        if flags & 0x02 != 0 { position += 2 }  // FHCRC
        guard position <= data.count else { throw .truncated }
        var inflater = Inflater(data[position...], limit: limit)
        let output = try inflater.run()
        let end = inflater.consumedBytes
        guard end + 8 <= data.count else { throw .truncated }
        let crc = UInt32(data[end]) | UInt32(data[end + 1]) << 8 | UInt32(data[end + 2]) << 16 | UInt32(data[end + 3]) << 24
        let size = UInt32(data[end + 4]) | UInt32(data[end + 5]) << 8 | UInt32(data[end + 6]) << 16 | UInt32(data[end + 7]) << 24
        guard crc == CRC32.checksum(output) else { throw .invalid("CRC-32 mismatch") }
        guard size == UInt32(truncatingIfNeeded: output.count) else { throw .invalid("length mismatch") }
        return output
    }
}

/// CRC-32 (IEEE 802.3, as gzip uses it).
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// A raw DEFLATE stream decoder.
struct Inflater {
    private let input: ArraySlice<UInt8>
    private var position: Int
    private var bitBuffer = 0
    private var bitCount = 0
    private var output: [UInt8] = []
    private let limit: Int

    /// A Huffman code: how many codes of each length, and the symbols in canonical order.
    private struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int]

        /// A code from each symbol's code length (0: unused); nil if the lengths over-subscribe.
        init?(lengths: ArraySlice<Int>) {
            symbols = []
            for length in lengths { counts[length] += 1 }
            var left = 1
            for length in 1..<16 {
                left <<= 1
                left -= counts[length]
                if left < 0 { return nil }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, length) in lengths.enumerated() where length != 0 {
                symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
        }
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
        8193, 12289, 16385, 24577,
    ]
    private static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    private static let fixed: (Huffman, Huffman) = {
        var lengths = [Int](repeating: 8, count: 288)
        for symbol in 144..<256 { lengths[symbol] = 9 }
        for symbol in 256..<280 { lengths[symbol] = 7 }
        return (Huffman(lengths: lengths[...])!, Huffman(lengths: [Int](repeating: 5, count: 30)[...])!)
    }()

    init(_ input: ArraySlice<UInt8>, limit: Int) {
        self.input = input
        position = input.startIndex
        self.limit = limit
    }

    /// Bytes of input used, counted from the start of the slice's parent array (whole bytes).
    var consumedBytes: Int { position }

    /// Decodes every block up to the final one.
    mutating func run() throws(InflateError) -> [UInt8] {
        var last = false
        while !last {
            last = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(Self.fixed.0, Self.fixed.1)
            case 2:
                let (literals, distances) = try dynamicCodes()
                try codes(literals, distances)
            default: throw .invalid("block type 3")
            }
        }
        return output
    }

    private mutating func bits(_ count: Int) throws(InflateError) -> Int {
        while bitCount < count {
            guard position < input.endIndex else { throw .truncated }
            bitBuffer |= Int(input[position]) << bitCount
            position += 1
            bitCount += 8
        }
        let value = bitBuffer & ((1 << count) - 1)
        bitBuffer >>= count
        bitCount -= count
        return value
    }

    private mutating func stored() throws(InflateError) {
        bitBuffer = 0
        bitCount = 0
        guard position + 4 <= input.endIndex else { throw .truncated }
        let length = Int(input[position]) | Int(input[position + 1]) << 8
        let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
        guard length == ~complement & 0xFFFF else { throw .invalid("stored block length") }
        position += 4
        guard position + length <= input.endIndex else { throw .truncated }
        guard output.count + length <= limit else { throw .tooLarge(limit: limit) }
        output += input[position..<position + length]
        position += length
    }

    private mutating func decode(_ code: Huffman) throws(InflateError) -> Int {
        var value = 0
        var first = 0
        var index = 0
        for length in 1..<16 {
            value |= try bits(1)
            let count = code.counts[length]
            if value - count < first { return code.symbols[index + (value - first)] }
            index += count
            first += count
            first <<= 1
            value <<= 1
        }
        throw .invalid("no such Huffman code")
    }

    private mutating func codes(_ literals: Huffman, _ distances: Huffman) throws(InflateError) {
        while true {
            let symbol = try decode(literals)
            if symbol < 256 {
                guard output.count < limit else { throw .tooLarge(limit: limit) }
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let index = symbol - 257
                guard index < 29 else { throw .invalid("length symbol \(symbol)") }
                let length = Self.lengthBase[index] + (try bits(Self.lengthExtra[index]))
                let distanceSymbol = try decode(distances)
                guard distanceSymbol < 30 else { throw .invalid("distance symbol \(distanceSymbol)") }
                let distance = Self.distanceBase[distanceSymbol] + (try bits(Self.distanceExtra[distanceSymbol]))
                guard distance <= output.count else { throw .invalid("distance \(distance) too far back") }
                guard output.count + length <= limit else { throw .tooLarge(limit: limit) }
                let start = output.count - distance
                for offset in 0..<length { output.append(output[start + offset]) }
            }
        }
    }

    private mutating func dynamicCodes() throws(InflateError) -> (Huffman, Huffman) {
        let literalCount = try bits(5) + 257
        let distanceCount = try bits(5) + 1
        let codeCount = try bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw .invalid("too many codes") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var codeLengths = [Int](repeating: 0, count: 19)
        for index in 0..<codeCount { codeLengths[order[index]] = try bits(3) }
        guard let lengthCode = Huffman(lengths: codeLengths[...]) else { throw .invalid("code-length code") }
        var lengths: [Int] = []
        while lengths.count < literalCount + distanceCount {
            let symbol = try decode(lengthCode)
            switch symbol {
            case 0..<16:
                lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw .invalid("repeat with nothing before") }
                lengths += repeatElement(previous, count: 3 + (try bits(2)))
            case 17:
                lengths += repeatElement(0, count: 3 + (try bits(3)))
            default:
                lengths += repeatElement(0, count: 11 + (try bits(7)))
            }
        }
        guard lengths.count == literalCount + distanceCount else { throw .invalid("code lengths overrun") }
        guard lengths[256] != 0 else { throw .invalid("no end-of-block code") }
        guard let literals = Huffman(lengths: lengths[..<literalCount]),
            let distances = Huffman(lengths: lengths[literalCount...])
        else { throw .invalid("over-subscribed code") }
        return (literals, distances)
    }
}
