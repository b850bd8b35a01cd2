/// Address ranges peers are refused from (Transmission's and qBittorrent's IP blocklists).
///
/// Reads the formats blocklist publishers ship, one rule per line:
/// - P2P / PeerGuardian: `Some organisation:1.2.4.0-1.2.4.255` (the range after the last colon);
/// - eMule DAT: `001.002.004.000 - 001.002.004.255 , 000 , Some organisation` (every range is
///   taken, whatever its access level, as Transmission does);
/// - CIDR, IPv4 or IPv6: `1.2.4.0/24`, `2001:db8::/32`;
/// - a bare address or range: `1.2.4.7`, `1.2.4.0-1.2.4.255`, `2001:db8::1-2001:db8::ff`.
///
/// Blank lines and comments (`#`, `;`, `//`) are ignored; any other line that is none of these
/// is counted in `skippedLines` and ignored, so one bad line never costs the rest. Overlapping
/// and adjacent ranges are merged; a lookup is a binary search. An IPv4-mapped IPv6 address
/// (`::ffff:1.2.4.7`) is looked up as the IPv4 address it is.
public struct Blocklist: Sendable, Equatable {
    private var starts4: [UInt32] = []
    private var ends4: [UInt32] = []
    private var starts6: [UInt128] = []
    private var ends6: [UInt128] = []
    /// Lines that were not a rule, a comment or blank.
    public private(set) var skippedLines = 0

    /// An empty list: refuses nobody.
    public init() {}

    /// The rules in `text` (any of the formats above, mixed).
    public init(parsing text: [UInt8]) {
        var v4: [(UInt32, UInt32)] = []
        var v6: [(UInt128, UInt128)] = []
        text.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                var end = start
                while end < all.count && all[end] != UInt8(ascii: "\n") { end += 1 }
                let line = UnsafeBufferPointer(rebasing: all[start..<end])
                switch Self.rule(in: line) {
                case .ignored: break
                case .v4(let low, let high): v4.append((low, high))
                case .v6(let low, let high): v6.append((low, high))
                case .bad: skippedLines += 1
                }
                start = end + 1
            }
        }
        (starts4, ends4) = Self.merge(v4)
        (starts6, ends6) = Self.merge(v6)
    }

    /// Ranges after merging.
    public var ruleCount: Int { starts4.count + starts6.count }
    /// Whether it refuses nobody.
    public var isEmpty: Bool { ruleCount == 0 }

    /// Whether `ip` (4 or 16 bytes, network order) is in a range.
    public func contains(ip: [UInt8]) -> Bool {
        if ip.count == 4 { return Self.find(Self.uint32(ip, 0), starts4, ends4) }
        guard ip.count == 16 else { return false }
        if ip[0..<10].allSatisfy({ $0 == 0 }) && ip[10] == 0xFF && ip[11] == 0xFF {
            return Self.find(Self.uint32(ip, 12), starts4, ends4)
        }
        var value: UInt128 = 0
        for byte in ip { value = value << 8 | UInt128(byte) }
        return Self.find(value, starts6, ends6)
    }

    /// Both lists' rules in one (several files in a blocklist directory).
    public func merged(with other: Blocklist) -> Blocklist {
        var result = Blocklist()
        (result.starts4, result.ends4) = Self.merge(Array(zip(starts4 + other.starts4, ends4 + other.ends4)))
        (result.starts6, result.ends6) = Self.merge(Array(zip(starts6 + other.starts6, ends6 + other.ends6)))
        result.skippedLines = skippedLines + other.skippedLines
        return result
    }

    // MARK: - Lines

    private enum Rule {
        case ignored, bad
        case v4(UInt32, UInt32)
        case v6(UInt128, UInt128)
    }

    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), cr = UInt8(ascii: "\r")

    private static func trimmed(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var low = 0, high = line.count
        while low < high && (line[low] == space || line[low] == tab || line[low] == cr) { low += 1 }
        while high > low && (line[high - 1] == space || line[high - 1] == tab || line[high - 1] == cr) { high -= 1 }
        return UnsafeBufferPointer(rebasing: line[low..<high])
    }

    private static func rule(in raw: UnsafeBufferPointer<UInt8>) -> Rule {
        let line = trimmed(raw)
        guard let first = line.first else { return .ignored }
        if first == UInt8(ascii: "#") || first == UInt8(ascii: ";") { return .ignored }
        if line.count >= 2 && first == UInt8(ascii: "/") && line[1] == UInt8(ascii: "/") { return .ignored }
        // DAT: the range is before the first comma.
        if let comma = line.firstIndex(of: UInt8(ascii: ",")),
            case .v4(let low, let high) = range(UnsafeBufferPointer(rebasing: line[..<comma]))
        {
            return .v4(low, high)
        }
        // A bare address, range or CIDR block (IPv6 ones contain colons, so before P2P).
        let whole = range(line)
        if case .bad = whole {} else { return whole }
        // P2P: the range after the last colon.
        if let colon = line.lastIndex(of: UInt8(ascii: ":")),
            case .v4(let low, let high) = range(UnsafeBufferPointer(rebasing: line[(colon + 1)...]))
        {
            return .v4(low, high)
        }
        return .bad
    }

    /// `A`, `A-B` or `A/bits`, IPv4 or IPv6, spaces allowed around the separators.
    private static func range(_ raw: UnsafeBufferPointer<UInt8>) -> Rule {
        let text = trimmed(raw)
        if let dash = text.firstIndex(of: UInt8(ascii: "-")) {
            let low = trimmed(UnsafeBufferPointer(rebasing: text[..<dash]))
            let high = trimmed(UnsafeBufferPointer(rebasing: text[(dash + 1)...]))
            if let a = ipv4(low), let b = ipv4(high) { return a <= b ? .v4(a, b) : .bad }
            if let a = ipv6(low), let b = ipv6(high) { return a <= b ? .v6(a, b) : .bad }
            return .bad
        }
        if let slash = text.firstIndex(of: UInt8(ascii: "/")) {
            let address = UnsafeBufferPointer(rebasing: text[..<slash])
            guard let bits = decimal(UnsafeBufferPointer(rebasing: text[(slash + 1)...]), maximum: 128) else { return .bad }
            if let a = ipv4(address), bits <= 32 {
                let mask: UInt32 = bits == 0 ? 0 : ~0 << (32 - bits)
                return .v4(a & mask, a | ~mask)
            }
            if let a = ipv6(address) {
                let mask: UInt128 = bits == 0 ? 0 : ~0 << (128 - bits)
                return .v6(a & mask, a | ~mask)
            }
            return .bad
        }
        if let a = ipv4(text) { return .v4(a, a) }
        if let a = ipv6(text) { return .v6(a, a) }
        return .bad
    }

    private static func decimal(_ text: UnsafeBufferPointer<UInt8>, maximum: Int) -> Int? {
        guard !text.isEmpty, text.count <= 3 else { return nil }
        var value = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value <= maximum ? value : nil
    }

    /// Dotted quad, octets of one to three digits (DAT files pad them: `001.002.004.000`).
    static func ipv4(_ text: UnsafeBufferPointer<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var start = 0
        while start <= text.count {
            var end = start
            while end < text.count && text[end] != UInt8(ascii: ".") { end += 1 }
            guard octets < 4, let octet = decimal(UnsafeBufferPointer(rebasing: text[start..<end]), maximum: 255) else { return nil }
            value = value << 8 | UInt32(octet)
            octets += 1
            start = end + 1
        }
        return octets == 4 ? value : nil
    }

    /// RFC 4291 text: eight groups of up to four hex digits, one `::` for a run of zero groups,
    /// optionally a dotted quad as the last 32 bits.
    static func ipv6(_ text: UnsafeBufferPointer<UInt8>) -> UInt128? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        var sawGap = false
        var index = 0
        if text[0] == UInt8(ascii: ":") {
            guard text[1] == UInt8(ascii: ":") else { return nil }
            sawGap = true
            index = 2
        }
        while index < text.count {
            var end = index
            while end < text.count && text[end] != UInt8(ascii: ":") { end += 1 }
            let group = UnsafeBufferPointer(rebasing: text[index..<end])
            if end == text.count, group.contains(UInt8(ascii: ".")) {
                guard let quad = ipv4(group) else { return nil }
                let halves = [UInt16(quad >> 16), UInt16(quad & 0xFFFF)]
                if sawGap { tail += halves } else { head += halves }
                index = end
                break
            }
            guard let value = hexGroup(group) else { return nil }
            if sawGap { tail.append(value) } else { head.append(value) }
            index = end
            if index < text.count {
                index += 1  // the colon
                if index < text.count && text[index] == UInt8(ascii: ":") {
                    guard !sawGap else { return nil }
                    sawGap = true
                    index += 1
                } else if index == text.count {
                    return nil  // a single trailing colon
                }
            }
        }
        let groups = head.count + tail.count
        guard sawGap ? groups < 8 : groups == 8 else { return nil }
        var value: UInt128 = 0
        for group in head { value = value << 16 | UInt128(group) }
        for _ in 0..<(8 - groups) { value <<= 16 }
        for group in tail { value = value << 16 | UInt128(group) }
        return value
    }

    private static func hexGroup(_ text: UnsafeBufferPointer<UInt8>) -> UInt16? {
        guard !text.isEmpty, text.count <= 4 else { return nil }
        var value: UInt16 = 0
        for byte in text {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    // MARK: - Ranges

    private static func merge<T: FixedWidthInteger & UnsignedInteger>(_ ranges: [(T, T)]) -> ([T], [T]) {
        var starts: [T] = [], ends: [T] = []
        for (low, high) in ranges.sorted(by: { $0.0 < $1.0 }) {
            if let last = ends.last, last == T.max || low <= last + 1 {
                ends[ends.count - 1] = max(last, high)
            } else {
                starts.append(low)
                ends.append(high)
            }
        }
        return (starts, ends)
    }

    private static func find<T: Comparable>(_ value: T, _ starts: [T], _ ends: [T]) -> Bool {
        // The last range starting at or before `value`.
        var low = 0, high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] <= value { low = middle + 1 } else { high = middle }
        }
        return low > 0 && value <= ends[low - 1]
    }

    private static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}

extension Blocklist {
    public static func == (lhs: Blocklist, rhs: Blocklist) -> Bool {
        lhs.starts4 == rhs.starts4 && lhs.ends4 == rhs.ends4 && lhs.starts6 == rhs.starts6 && lhs.ends6 == rhs.ends6
    }
}
