import Client
import Testing

@Suite struct LogTests {
    // One event, one line, whatever a field holds: a peer's or tracker's newline cannot forge a
    // second line, an escape sequence cannot reach the terminal, quotes stay inside their value.
    @Test func fieldsCannotForgeLinesOrDriveTheTerminal() {
        var lines: [String] = []
        let log = Log(minimum: .info) { lines.append($0) }
        log.warn("tracker_failed", [("reason", "x\n2026-11-29T10:00:00Z error forged=1\u{1B}[31m"), ("client", "a\"b\\c"), ("plain", "ok")])
        #expect(lines.count == 1)
        let line = lines.first ?? ""
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(!line.unicodeScalars.contains { $0.value == 0x1B })
        #expect(line.contains(#"reason="x\n2026-11-29T10:00:00Z error forged=1\x1b[31m""#))
        #expect(line.contains(#"client="a\"b\c""#))
        #expect(line.contains(" plain=ok"))
    }
}
