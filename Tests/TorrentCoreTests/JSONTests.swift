import Testing

@testable import TorrentCore

private func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONError) -> JSON {
    try JSON(parsing: Array(text.utf8), limits: limits)
}

private func rejects(_ bytes: [UInt8]) -> Bool {
    do {
        _ = try JSON(parsing: bytes)
        return false
    } catch { return true }
}

@Suite struct JSONTests {
    // A Transmission request parses into values with members in order, integers kept as integers.
    @Test func parsesARequest() throws {
        let request = try parse(#" {"method":"torrent-get","arguments":{"fields":["id","name"],"ids":[1,2]},"tag":7, "x": -0.5e1 } "#)
        #expect(request["method"] == .string("torrent-get"))
        #expect(request["tag"]?.integerValue == 7)
        #expect(request["x"] == .double(-5))
        #expect(request["arguments"]?["fields"] == .array([.string("id"), .string("name")]))
        #expect(request.objectValue?.map(\.0) == ["method", "arguments", "tag", "x"])
        #expect(try parse("[true,false,null,0,-0,1.25,\"\"]") == .array([.bool(true), .bool(false), .null, .integer(0), .integer(0), .double(1.25), .string("")]))
        // Too big for Int64: a Double.
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        // A repeated key: lookup takes the last.
        #expect(try parse(#"{"a":1,"a":2}"#)["a"] == .integer(2))
    }

    // Escapes, including a surrogate pair; UTF-8 passes through.
    @Test func decodesEscapes() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00 ü""#) == .string("a\"b\\c/d\u{08}\u{0C}\n\r\té😀 ü"))
    }

    // What RFC 8259 forbids is refused, each with an error, never a crash.
    @Test func rejectsMalformedInput() {
        let bad = [
            "", " ", "{", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "01", "-", "1.", ".5", "+1", "1e", "1e+",
            "NaN", "Infinity", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
            "1 2", "{\"a\":1}}", "[1]x", "1e400", "'a'", "[,]", "{,}",
        ]
        for text in bad { #expect(rejects(Array(text.utf8)), "accepted \(text)") }
        // A raw control character and invalid UTF-8 inside a string.
        #expect(rejects([0x22, 0x0A, 0x22]))
        #expect(rejects([0x22, 0xC3, 0x28, 0x22]))
        #expect(rejects([0x22, 0xFF, 0x22]))
    }

    // Nesting and size are capped before they cost anything.
    @Test func enforcesLimits() throws {
        var limits = JSONLimits()
        limits.maxDepth = 4
        #expect(throws: JSONError.tooDeep) { try parse("[[[[[1]]]]]", limits: limits) }
        #expect(try parse("[[[[1]]]]", limits: limits) == .array([.array([.array([.array([.integer(1)])])])]))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.tooDeep) { try parse(deep) }
        limits.maxInputBytes = 10
        #expect(throws: JSONError.tooLarge) { try parse("[1,2,3,4,5,6]", limits: limits) }
    }

    // Encoding is compact and escapes what JSON requires; what it writes parses back the same.
    @Test func encodesAndRoundTrips() throws {
        let value = JSON.object([
            ("name", .string("a \"b\"\n\u{01} é😀")), ("size", .integer(1 << 40)), ("ratio", .double(1.5)), ("whole", .double(3)),
            ("list", .array([.null, .bool(true), .object([])])), ("nan", .double(.nan)),
        ])
        let text = String(decoding: value.encoded(), as: UTF8.self)
        #expect(text == #"{"name":"a \"b\"\n\u0001 é😀","size":1099511627776,"ratio":1.5,"whole":3,"list":[null,true,{}],"nan":null}"#)
        let back = try JSON(parsing: value.encoded())
        #expect(back["name"] == value["name"] && back["size"] == value["size"] && back["ratio"] == value["ratio"])
        #expect(back["whole"] == .integer(3) && back["nan"] == .null)
    }

    // Numbers are written digit by digit (no String made), strings that need no escape are copied
    // whole, and text already encoded goes out as it is.
    @Test func writesNumbersStringsAndEncodedText() throws {
        for value: Int64 in [0, 7, 10, -1, -10, 1234567890, .max, .min] {
            #expect(JSON.integer(value).encoded() == Array(String(value).utf8))
        }
        #expect(JSON.string("plain name.bin").encoded() == Array(#""plain name.bin""#.utf8))
        #expect(JSON.string("a\"b\\c\n").encoded() == Array(#""a\"b\\c\n""#.utf8))
        #expect(JSON.memberPrefix("hashString") == Array(#""hashString":"#.utf8))
        let inner = JSON.array([.integer(1), .string("x")]).encoded()
        let outer = JSON.object([("torrents", .encoded(inner)), ("n", .integer(2))]).encoded()
        #expect(outer == Array(#"{"torrents":[1,"x"],"n":2}"#.utf8))
        #expect(try JSON(parsing: outer)["torrents"] == .array([.integer(1), .string("x")]))
    }
}
