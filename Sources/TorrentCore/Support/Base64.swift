/// Base64 (RFC 4648 §4) for the RPC: `torrent-add`'s `metainfo` and HTTP basic credentials.
/// Decoding is strict about the alphabet and padding but, as Transmission's clients send it,
/// ignores whitespace and line breaks (some wrap base64 at 76 columns).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    /// The encoding of `bytes`, padded.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(chunk >> UInt32(shift) & 63)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil if it is not base64 (a bad character, data after padding,
    /// padding that does not complete the last quantum, or a length no encoding has).
    public static func decode(_ text: String) -> [UInt8]? {
        var sextets: [UInt8] = []
        sextets.reserveCapacity(text.utf8.count)
        var padding = 0
        for byte in text.utf8 {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            case UInt8(ascii: "="):
                padding += 1
                guard padding <= 2 else { return nil }
            default:
                let value = values[Int(byte)]
                guard value >= 0, padding == 0 else { return nil }
                sextets.append(UInt8(value))
            }
        }
        // Padding, if present, must complete the last quantum; unpadded input is accepted too.
        if padding > 0 && (sextets.count + padding) % 4 != 0 { return nil }
        guard sextets.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(sextets.count * 3 / 4)
        var index = 0
        while index + 4 <= sextets.count {
            let chunk = UInt32(sextets[index]) << 18 | UInt32(sextets[index + 1]) << 12 | UInt32(sextets[index + 2]) << 6 | UInt32(sextets[index + 3])
            out += [UInt8(chunk >> 16 & 0xFF), UInt8(chunk >> 8 & 0xFF), UInt8(chunk & 0xFF)]
            index += 4
        }
        let rest = sextets.count - index
        if rest >= 2 {
            let chunk = UInt32(sextets[index]) << 18 | UInt32(sextets[index + 1]) << 12 | (rest == 3 ? UInt32(sextets[index + 2]) << 6 : 0)
            out.append(UInt8(chunk >> 16 & 0xFF))
            if rest == 3 { out.append(UInt8(chunk >> 8 & 0xFF)) }
        }
        return out
    }
}
