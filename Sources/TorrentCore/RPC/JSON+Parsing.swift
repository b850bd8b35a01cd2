extension JSON {
    /// Parses exactly one JSON value (surrounding whitespace allowed), strictly: no comments,
    /// no trailing commas, no leading zeros, no NaN, valid UTF-8 and paired surrogates only.
    public init(parsing bytes: [UInt8], limits: JSONLimits = JSONLimits()) throws(JSONError) {
        guard bytes.count <= limits.maxInputBytes else { throw .tooLarge }
        self = try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> JSON in
            var parser = JSONParser(bytes: buffer, maxDepth: limits.maxDepth)
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.position == buffer.count else { throw .trailingBytes(offset: parser.position) }
            return value
        }
    }
}

private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func peek() throws(JSONError) -> UInt8 {
        guard position < bytes.count else { throw .truncated }
        return bytes[position]
    }

    mutating func value(depth: Int) throws(JSONError) -> JSON {
        switch try peek() {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw .unexpected(offset: position)
        }
    }

    private mutating func literal(_ word: StaticString, _ result: JSON) throws(JSONError) -> JSON {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw .truncated }
        for index in 0..<count where bytes[position + index] != word.utf8Start[index] {
            throw .unexpected(offset: position + index)
        }
        position += count
        return result
    }

    private mutating func object(depth: Int) throws(JSONError) -> JSON {
        guard depth <= maxDepth else { throw .tooDeep }
        position += 1
        var members: [(String, JSON)] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard try peek() == UInt8(ascii: "\"") else { throw .unexpected(offset: position) }
            let key = try string()
            skipWhitespace()
            guard try peek() == UInt8(ascii: ":") else { throw .unexpected(offset: position) }
            position += 1
            skipWhitespace()
            members.append((key, try value(depth: depth)))
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .object(members)
            default: throw .unexpected(offset: position)
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONError) -> JSON {
        guard depth <= maxDepth else { throw .tooDeep }
        position += 1
        var elements: [JSON] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            default: throw .unexpected(offset: position)
            }
        }
    }

    private mutating func number() throws(JSONError) -> JSON {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw .truncated }
        // Integer part: 0, or a non-zero digit and more digits.
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if isDigit(bytes[position]) {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        } else {
            throw .badNumber(offset: start)
        }
        var integral = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw .badNumber(offset: start) }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            integral = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else { throw .badNumber(offset: start) }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        if integral, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text), value.isFinite else { throw .badNumber(offset: start) }
        return .double(value)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// A string at `position` (on its opening quote); validates UTF-8 and escapes.
    mutating func string() throws(JSONError) -> String {
        let start = position
        position += 1
        // Fast path: no escapes; the bytes are copied once and validated as UTF-8.
        var runStart = position
        var result: [UInt8] = []
        while true {
            guard position < bytes.count else { throw .truncated }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                result.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                position += 1
                break
            }
            if byte < 0x20 { throw .badString(offset: position) }
            if byte == UInt8(ascii: "\\") {
                result.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                try escape(into: &result)
                runStart = position
                continue
            }
            position += 1
        }
        guard let text = String(validating: result, as: UTF8.self) else { throw .badString(offset: start) }
        return text
    }

    private mutating func escape(into result: inout [UInt8]) throws(JSONError) {
        let at = position
        position += 1
        guard position < bytes.count else { throw .truncated }
        let code = bytes[position]
        position += 1
        switch code {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(code)
        case UInt8(ascii: "b"): result.append(0x08)
        case UInt8(ascii: "f"): result.append(0x0C)
        case UInt8(ascii: "n"): result.append(0x0A)
        case UInt8(ascii: "r"): result.append(0x0D)
        case UInt8(ascii: "t"): result.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(at: at)
            if scalar >= 0xD800 && scalar < 0xDC00 {
                // A high surrogate must be followed by \u and a low one.
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                else { throw .badString(offset: at) }
                position += 2
                let low = try hex4(at: at)
                guard low >= 0xDC00 && low < 0xE000 else { throw .badString(offset: at) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw .badString(offset: at)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw .badString(offset: at) }
            result.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw .badString(offset: at)
        }
    }

    private mutating func hex4(at: Int) throws(JSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw .truncated }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw .badString(offset: at)
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
