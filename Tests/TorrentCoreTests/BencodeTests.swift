import Testing

@testable import TorrentCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func decodeError(_ text: String, limits: BencodeLimits = .default) -> BencodeError? {
    do {
        _ = try Bencode.decode(bytes(text), limits: limits)
        return nil
    } catch {
        return error
    }
}

@Suite struct BencodeTests {
    // Every BEP 3 value type decodes to the matching case, and nested structures keep their order.
    @Test func decodesEveryValueType() throws {
        #expect(try Bencode.decode(bytes("i42e")) == .integer(42))
        #expect(try Bencode.decode(bytes("i-42e")) == .integer(-42))
        #expect(try Bencode.decode(bytes("i0e")) == .integer(0))
        #expect(try Bencode.decode(bytes("4:spam")) == .bytes(bytes("spam")))
        #expect(try Bencode.decode(bytes("0:")) == .bytes([]))
        #expect(try Bencode.decode(bytes("l4:spami7ee")) == .list([.string("spam"), .integer(7)]))
        let dictionary = try Bencode.decode(bytes("d3:bar4:spam3:fooi42ee"))
        #expect(dictionary.dictionaryValue?["bar"] == .string("spam"))
        #expect(dictionary.dictionaryValue?["foo"] == .integer(42))
        #expect(dictionary.dictionaryValue?.entries.map { String(decoding: $0.key, as: UTF8.self) } == ["bar", "foo"])
    }

    // The full Int64 range is representable, and one past either end is an overflow, not a wrap.
    @Test func integerRangeIsExactlyInt64() throws {
        #expect(try Bencode.decode(bytes("i9223372036854775807e")) == .integer(.max))
        #expect(try Bencode.decode(bytes("i-9223372036854775808e")) == .integer(.min))
        #expect(decodeError("i9223372036854775808e")?.kind == .integerOverflow)
        #expect(decodeError("i-9223372036854775809e")?.kind == .integerOverflow)
        #expect(decodeError("i99999999999999999999999e")?.kind == .integerOverflow)
    }

    // BEP 3 forbids leading zeros and negative zero; an integer needs at least one digit.
    @Test func rejectsNonCanonicalIntegers() {
        for text in ["i03e", "i-0e", "i00e", "ie", "i-e", "i-03e"] {
            #expect(decodeError(text)?.kind == .malformedInteger, "\(text)")
        }
        #expect(decodeError("i1.5e")?.kind == .unexpectedByte(UInt8(ascii: ".")))
        #expect(decodeError("i+1e")?.kind == .unexpectedByte(UInt8(ascii: "+")))
    }

    // String lengths must be canonical too, and must fit in what is left of the input.
    @Test func rejectsBadStringLengths() {
        #expect(decodeError("01:a")?.kind == .malformedLength)
        #expect(decodeError("5:abc")?.kind == .lengthBeyondInput(5))
        #expect(decodeError("3a:abc")?.kind == .unexpectedByte(UInt8(ascii: "a")))
        // A length far beyond the input fails before any allocation, at the length's offset.
        let huge = decodeError("l99999999999999999999999999:e")
        #expect(huge?.offset == 1)
        if case .lengthBeyondInput = huge?.kind {} else { Issue.record("expected lengthBeyondInput, got \(String(describing: huge))") }
    }

    // Keys must be strings, sorted as raw bytes, and unique; errors point at the offending key.
    @Test func rejectsBadDictionaries() {
        #expect(decodeError("d3:fooi1e3:bari2ee") == BencodeError(.unsortedKeys, at: 9))
        #expect(decodeError("d3:fooi1e3:fooi2ee") == BencodeError(.duplicateKey, at: 9))
        #expect(decodeError("di1ei2ee") == BencodeError(.nonStringKey, at: 1))
        // Byte order, not text order: "B" (0x42) sorts before "a" (0x61).
        #expect(decodeError("d1:Bi1e1:ai2ee") == nil)
        #expect(decodeError("d1:ai1e1:Bi2ee")?.kind == .unsortedKeys)
        // Taken when asked (torrents in the wild), sorted as read; a key twice is still refused,
        // however far apart.
        let lenient = BencodeLimits(maxDepth: 8, maxInputBytes: 1 << 20, allowsUnsortedKeys: true)
        let unsorted = try? Bencode.decode(Array("d3:fooi1e3:bari2ee".utf8), limits: lenient)
        #expect(unsorted.map(Bencode.encode) == Array("d3:bari2e3:fooi1ee".utf8))
        #expect(throws: BencodeError(.duplicateKey, at: 7)) {
            try Bencode.decode(Array("d1:bi1e1:ai2e1:bi3ee".utf8), limits: lenient)
        }
        // A key that is a prefix of the next sorts first.
        #expect(decodeError("d1:ai1e2:aai2ee") == nil)
    }

    // Anything after the top-level value is an error, with its offset.
    @Test func rejectsTrailingBytes() {
        #expect(decodeError("i1ei2e") == BencodeError(.trailingBytes, at: 3))
        #expect(decodeError("4:spamx") == BencodeError(.trailingBytes, at: 6))
        #expect(decodeError("") == BencodeError(.truncated, at: 0))
        #expect(decodeError("x")?.kind == .unexpectedByte(UInt8(ascii: "x")))
    }

    // Every strict prefix of a valid encoding is rejected: a decoder that accepts a truncated
    // torrent would hash the wrong info bytes.
    @Test func everyTruncationOfValidInputIsRejected() throws {
        let samples = [
            "d8:announce13:http://x/ann/4:infod6:lengthi12345e4:name3:abc12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
            "l4:spaml1:ai-1eed0:le1:xi1eee",
            "i-9223372036854775808e",
        ]
        for sample in samples {
            let full = bytes(sample)
            _ = try Bencode.decode(full)
            for cut in 0..<full.count {
                #expect(throws: BencodeError.self, "prefix of \(cut) bytes of \(sample)") {
                    try Bencode.decode(Array(full[..<cut]))
                }
            }
        }
    }

    // Nesting is capped so a few KiB of '[' cannot overflow the stack; the cap itself is accepted.
    @Test func nestingDepthIsLimited() throws {
        let limits = BencodeLimits(maxDepth: 8, maxInputBytes: 1 << 20)
        let ok = String(repeating: "l", count: 8) + String(repeating: "e", count: 8)
        #expect(decodeError(ok, limits: limits) == nil)
        let deep = String(repeating: "l", count: 9) + String(repeating: "e", count: 9)
        #expect(decodeError(deep, limits: limits) == BencodeError(.nestingTooDeep(limit: 8), at: 8))
        // With the default limits, a million levels fail fast instead of crashing.
        let hostile = String(repeating: "l", count: 1_000_000)
        #expect(decodeError(hostile)?.kind == .nestingTooDeep(limit: BencodeLimits.default.maxDepth))
        let dictionaries = String(repeating: "d1:a", count: 100_000)
        #expect(decodeError(dictionaries)?.kind == .nestingTooDeep(limit: BencodeLimits.default.maxDepth))
    }

    // Input over the size cap is refused before it is read.
    @Test func inputSizeIsLimited() {
        let limits = BencodeLimits(maxDepth: 8, maxInputBytes: 10)
        #expect(decodeError("11:hello world", limits: limits) == BencodeError(.inputTooLarge(limit: 10), at: 0))
        #expect(decodeError("5:hello", limits: limits) == nil)
    }

    // Encoding is canonical: sorted keys, minimal integers, and decode(encode(v)) == v.
    @Test func encodesCanonicallyAndRoundTrips() throws {
        let value = BencodeValue.dictionary(
            BencodeDictionary([
                ("zeta", .integer(-5)), ("alpha", .list([.string("x"), .integer(0)])),
                ("mid", .dictionary(BencodeDictionary([("b", .bytes([0, 255])), ("a", .string(""))]))),
            ]))
        let encoded = Bencode.encode(value)
        #expect(String(decoding: encoded, as: UTF8.self) == "d5:alphal1:xi0ee3:midd1:a0:1:b2:\u{0}\u{FFFD}e4:zetai-5ee")
        #expect(try Bencode.decode(encoded) == value)
        let text = "d4:infod6:lengthi1e4:name1:aee"
        #expect(Bencode.encode(try Bencode.decode(bytes(text))) == bytes(text))
    }

    // decodeWithSpans gives the exact byte range of each top-level value (for the info hash).
    @Test func spansPointAtExactValueBytes() throws {
        let fixed = bytes("d1:ai1e4:infod1:xi2ee1:zlee")
        let (_, spans) = try Bencode.decodeWithSpans(fixed)
        let info = try #require(spans[bytes("info")])
        #expect(Array(fixed[info]) == bytes("d1:xi2ee"))
        #expect(Array(fixed[try #require(spans[bytes("z")])]) == bytes("le"))
    }

    // decodePrefix stops after one value and reports where, leaving the rest (BEP 9 payloads).
    @Test func decodePrefixLeavesTrailingData() throws {
        let input = bytes("d8:msg_typei1e5:piecei0eeRAWDATA")
        let (value, end) = try Bencode.decodePrefix(input)
        #expect(value.dictionaryValue?["piece"] == .integer(0))
        #expect(Array(input[end...]) == bytes("RAWDATA"))
    }

    // Errors read well for users: offset first, then what is wrong.
    @Test func errorDescriptionsNameTheOffset() {
        #expect(BencodeError(.unsortedKeys, at: 12).description == "invalid bencode at byte 12: dictionary keys are not sorted")
        #expect(BencodeError(.unexpectedByte(0x01), at: 0).description.hasSuffix("unexpected byte 0x01"))
    }
}
