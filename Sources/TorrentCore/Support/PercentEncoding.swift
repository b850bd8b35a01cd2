/// URL percent-encoding over raw bytes (RFC 3986), as tracker queries and magnet links need it.
public enum PercentEncoding {
    /// `bytes` with everything but unreserved characters (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` stands for, with `%XX` decoded and, if `plusIsSpace`, `+` as a space; nil if
    /// a `%` is not followed by two hex digits.
    public static func decode(_ text: some StringProtocol, plusIsSpace: Bool = true) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        var out: [UInt8] = []
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < utf8.count, let decoded = Hex.decode([utf8[index + 1], utf8[index + 2]])
                else { return nil }
                out.append(decoded[0])
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? 0x20 : byte)
                index += 1
            }
        }
        return out
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
