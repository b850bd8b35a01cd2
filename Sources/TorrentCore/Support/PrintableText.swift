extension String {
    /// This text with every control character (C0, DEL and C1: newlines, ESC and the terminal
    /// sequences it starts) written as a visible escape (`\n`, `\t`, `\x1b`, `\u{9b}`), and cut to
    /// `limit` characters with `…`: untrusted text (a tracker's message, a peer's client name) made
    /// safe for a log line, a terminal or a web page's list.
    public func printable(limit: Int = 512) -> String {
        var out = ""
        var kept = 0
        for scalar in unicodeScalars {
            if kept >= limit {
                out += "…"
                break
            }
            kept += 1
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00..<0x20, 0x7F:
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            case 0x80..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
                // C1 controls (0x9B is a one-byte CSI on some terminals), line separators and
                // bidirectional overrides that reorder what a reader sees.
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
