import Reactor
import Testing

@testable import TorrentCore

/// A valid multi-file info dictionary to break one rule at a time.
private func multiFileInfo(
    files: [BencodeValue]? = nil, pieceLength: Int64 = 16, pieceCount: Int = 2, name: BencodeValue = .string("top")
) -> BencodeDictionary {
    let defaultFiles: [BencodeValue] = [
        fileEntry(["a.txt"], 10), fileEntry(["sub", "b.bin"], 12),
    ]
    return BencodeDictionary([
        ("files", .list(files ?? defaultFiles)), ("name", name), ("piece length", .integer(pieceLength)),
        ("pieces", .bytes([UInt8](repeating: 0xAB, count: 20 * pieceCount))),
    ])
}

private func fileEntry(_ path: [String], _ length: Int64) -> BencodeValue {
    .dictionary(BencodeDictionary([("length", .integer(length)), ("path", .list(path.map(BencodeValue.string)))]))
}

private func torrent(info: BencodeDictionary, extra: [(String, BencodeValue)] = []) -> [UInt8] {
    Bencode.encode(.dictionary(BencodeDictionary([("info", .dictionary(info))] + extra)))
}

private func parse(_ bytes: [UInt8], strict: Bool = false) throws(MetainfoError) -> Metainfo {
    try Metainfo(bencoded: bytes, sha1: Digest.sha1, strict: strict)
}

private func parseError(_ bytes: [UInt8], strict: Bool = false) -> MetainfoError? {
    do {
        _ = try parse(bytes, strict: strict)
        return nil
    } catch {
        return error
    }
}

@Suite struct MetainfoTests {
    // A multi-file torrent parses into its files, layout, trackers and metadata.
    @Test func parsesMultiFileTorrent() throws {
        let bytes = torrent(
            info: multiFileInfo(),
            extra: [
                ("announce", .string("http://t1/announce")),
                ("announce-list", .list([.list([.string("http://t1/announce"), .string("http://t2/a")]), .list([.string("udp://t3:80")])])),
                ("comment", .string("hello")), ("created by", .string("test")), ("creation date", .integer(1_700_000_000)),
                ("url-list", .list([.string("http://seed/")])),
            ])
        let metainfo = try parse(bytes)
        #expect(metainfo.info.name == "top")
        #expect(metainfo.info.files.map(\.path) == [["a.txt"], ["sub", "b.bin"]])
        #expect(metainfo.info.totalLength == 22)
        #expect(metainfo.info.pieceCount == 2)
        #expect(!metainfo.info.isSingleFile)
        #expect(metainfo.info.relativePath(of: FileIndex(1)) == ["top", "sub", "b.bin"])
        #expect(metainfo.trackerTiers == [["http://t1/announce", "http://t2/a"], ["udp://t3:80"]])
        #expect(metainfo.webSeeds == ["http://seed/"])
        #expect(metainfo.comment == "hello")
        #expect(metainfo.createdBy == "test")
        #expect(metainfo.creationDate == 1_700_000_000)
    }

    // A single-file torrent has one file with an empty path; its relative path is the name.
    @Test func parsesSingleFileTorrentWithPrivateAndSource() throws {
        let info = BencodeDictionary([
            ("length", .integer(40000)), ("name", .string("file.iso")), ("piece length", .integer(32768)),
            ("pieces", .bytes([UInt8](repeating: 1, count: 40))), ("private", .integer(1)), ("source", .string("TRK")),
        ])
        let metainfo = try parse(torrent(info: info, extra: [("announce", .string("http://only/announce"))]))
        #expect(metainfo.info.isSingleFile)
        #expect(metainfo.info.files == [TorrentFile(path: [], length: 40000)])
        #expect(metainfo.info.relativePath(of: FileIndex(0)) == ["file.iso"])
        #expect(metainfo.info.isPrivate)
        #expect(metainfo.info.source == "TRK")
        #expect(metainfo.trackerTiers == [["http://only/announce"]])
        #expect(metainfo.info.layout.length(of: PieceIndex(1)) == 40000 - 32768)
        // A single file with BEP 47 attributes keeps them (the plain one keeps no list at all).
        let executable = BencodeDictionary(info.entries.map { (String(decoding: $0.key, as: UTF8.self), $0.value) } + [("attr", .string("x"))])
        let flagged = try parse(torrent(info: executable))
        #expect(flagged.info.files == [TorrentFile(path: [], length: 40000, attributes: "x")] && !flagged.info.files[0].isPadding)
    }

    // The info hash is the SHA-1 of the info bytes exactly as they appear in the file, whatever
    // surrounds them (here, keys before and after it).
    @Test func infoHashCoversExactInfoBytes() throws {
        let info = multiFileInfo()
        let infoBytes = Bencode.encode(.dictionary(info))
        let bytes = torrent(info: info, extra: [("announce", .string("http://a")), ("zzz", .integer(1))])
        let metainfo = try parse(bytes)
        #expect(metainfo.infoBytes == infoBytes)
        #expect(metainfo.infoHash.bytes == Digest.hash(.sha1, infoBytes))
        // The same info with different outer keys has the same hash.
        #expect(try parse(torrent(info: info)).infoHash == metainfo.infoHash)
    }

    // The piece hashes are kept as the part of the info bytes they are, not a second copy, even
    // when a file's name spells the same key and length before them.
    @Test func pieceHashesAreKeptInTheInfoBytes() throws {
        let hashes = (0..<40).map { UInt8($0 * 3) }
        let decoy = "6:pieces40:" + String(repeating: "x", count: 40)
        let info = multiFileInfo(files: [fileEntry([decoy], 10), fileEntry(["b"], 12)], pieceCount: 2)
        var entries = info.entries.map { ($0.key, $0.value) }
        entries[entries.firstIndex { $0.0 == Array("pieces".utf8) }!].1 = .bytes(hashes)
        let metainfo = try parse(torrent(info: BencodeDictionary(entries.map { (String(decoding: $0.0, as: UTF8.self), $0.1) })))
        #expect(Array(metainfo.info.hash(of: PieceIndex(0))) == Array(hashes[0..<20]))
        #expect(Array(metainfo.info.hash(of: PieceIndex(1))) == Array(hashes[20..<40]))
        let within = metainfo.infoBytes.withUnsafeBufferPointer { bytes in
            metainfo.info.pieceHashes.withUnsafeBufferPointer { pieces in
                pieces.baseAddress! >= bytes.baseAddress! && pieces.baseAddress! + pieces.count <= bytes.baseAddress! + bytes.count
            }
        }
        #expect(within)
        #expect(TorrentInfo.find(hashes, in: Array(decoy.utf8)) == nil)
        #expect(TorrentInfo.find(hashes, in: Array("6:pieces40:".utf8) + hashes).map(Array.init) == hashes)
        #expect(TorrentInfo.find(hashes, in: Array("6:pieces40:".utf8) + hashes.dropLast()) == nil)
    }

    // Each structural rule has its own error, so the user learns what is wrong.
    @Test func rejectsStructuralProblems() {
        #expect(parseError(Array("i1e".utf8)) == .notADictionary)
        #expect(parseError(Array("d4:spami1ee".utf8)) == .missingKey("info"))
        #expect(parseError(Array("d4:infoi1ee".utf8)) == .wrongType(key: "info", expected: "a dictionary"))
        var noName = multiFileInfo()
        noName["name"] = nil
        #expect(parseError(torrent(info: noName)) == .missingKey("name"))
        var noPieces = multiFileInfo()
        noPieces["pieces"] = nil
        #expect(parseError(torrent(info: noPieces)) == .missingKey("pieces"))
        var noFiles = multiFileInfo()
        noFiles["files"] = nil
        #expect(parseError(torrent(info: noFiles)) == .missingKey("length"))
        if case .bencode(let error)? = parseError(Array("d4:info".utf8)) {
            #expect(error.kind == .truncated)
        } else {
            Issue.record("truncated torrent should be a bencode error")
        }
    }

    // Sizes must be sane: piece length in 1...1 GiB, lengths non-negative, some data at all,
    // whole 20-byte hashes, and exactly as many hashes as pieces.
    @Test func rejectsBadSizes() {
        #expect(parseError(torrent(info: multiFileInfo(pieceLength: 0))) == .invalidPieceLength(0))
        #expect(parseError(torrent(info: multiFileInfo(pieceLength: -16))) == .invalidPieceLength(-16))
        #expect(parseError(torrent(info: multiFileInfo(pieceLength: 1 << 31))) == .invalidPieceLength(1 << 31))
        #expect(
            parseError(torrent(info: multiFileInfo(files: [fileEntry(["a"], -1)])))
                == .invalidFileLength(path: "top/a", length: -1))
        #expect(parseError(torrent(info: multiFileInfo(files: [fileEntry(["a"], 0)]))) == .emptyTorrent)
        #expect(parseError(torrent(info: multiFileInfo(pieceCount: 3))) == .pieceCountMismatch(expected: 2, actual: 3))
        var ragged = multiFileInfo()
        ragged["pieces"] = .bytes([UInt8](repeating: 0, count: 39))
        #expect(parseError(torrent(info: ragged)) == .piecesNotMultipleOf20(39))
        let overflow = multiFileInfo(files: [fileEntry(["a"], .max), fileEntry(["b"], 1)])
        #expect(parseError(torrent(info: overflow)) == .invalidFileLength(path: "top/b", length: 1))
    }

    // Paths from a torrent are untrusted: nothing may climb out of the download directory, be
    // absolute, hide a separator, or be empty — in file paths and in the name itself.
    @Test func rejectsPathTricks() {
        let hostile: [[String]] = [
            ["..", "etc", "passwd"], ["sub", "..", "..", "x"], ["."], ["", "."], ["/etc/passwd"], ["a/b"],
            ["a\\..\\b"], ["nul\u{0}byte"], [],
        ]
        for path in hostile {
            let error = parseError(torrent(info: multiFileInfo(files: [fileEntry(path, 22)])))
            guard case .unsafePath? = error else {
                Issue.record("path \(path) was not rejected as unsafe: \(String(describing: error))")
                continue
            }
        }
        for name in ["..", ".", "", "a/b", "/abs"] {
            let error = parseError(torrent(info: multiFileInfo(name: .string(name))))
            guard case .unsafePath? = error else {
                Issue.record("name '\(name)' was not rejected: \(String(describing: error))")
                continue
            }
        }
        // Dots inside a name are fine.
        #expect(parseError(torrent(info: multiFileInfo(files: [fileEntry(["..a", "b..", "..."], 22)]))) == nil)
    }

    // An empty or "." component names the directory it is in: dropped, as libtorrent and
    // Transmission drop it, so the file lands where the path would put it on disk; strict
    // parsing refuses it.
    @Test func dropsEmptyAndDotComponents() throws {
        let info = multiFileInfo(files: [fileEntry(["a", "", "b"], 11), fileEntry([".", "c", "."], 11)])
        let files = try parse(torrent(info: info)).info.files.map(\.path)
        #expect(files == [["a", "b"], ["c"]])
        guard case .unsafePath? = parseError(torrent(info: info), strict: true) else {
            Issue.record("strict parsing took an empty component")
            return
        }
    }

    // Two files at one path, or a file that is also a directory, would overwrite each other:
    // strict parsing refuses them.
    @Test func strictRefusesConflictingPaths() {
        let twice = multiFileInfo(files: [fileEntry(["a"], 11), fileEntry(["a"], 11)])
        #expect(parseError(torrent(info: twice), strict: true) == .conflictingPaths("top/a"))
        let fileThenDirectory = multiFileInfo(files: [fileEntry(["a"], 11), fileEntry(["a", "b"], 11)])
        #expect(parseError(torrent(info: fileThenDirectory), strict: true) == .conflictingPaths("top/a"))
        let directoryThenFile = multiFileInfo(files: [fileEntry(["a", "b"], 11), fileEntry(["a"], 11)])
        #expect(parseError(torrent(info: directoryThenFile), strict: true) == .conflictingPaths("top/a"))
    }

    // By default they are kept, as libtorrent keeps them: the file whose path is taken (by an
    // earlier file, or by a directory, wherever it comes) is renamed NAME.N.EXT with the first
    // free N, and nothing else moves. The info hash covers the bytes as they were.
    @Test func renamesConflictingPathsAsLibtorrentDoes() throws {
        func paths(_ files: [BencodeValue]) throws -> [String] {
            try parse(torrent(info: multiFileInfo(files: files))).info.files.map { $0.path.joined(separator: "/") }
        }
        #expect(try paths([fileEntry(["foo", "bar.txt"], 11), fileEntry(["foo", "bar.txt"], 11)]) == ["foo/bar.txt", "foo/bar.1.txt"])
        #expect(
            try paths([fileEntry(["a.txt"], 7), fileEntry(["a.txt"], 7), fileEntry(["a.1.txt"], 8)])
                == ["a.txt", "a.1.txt", "a.1.1.txt"])
        #expect(try paths([fileEntry(["a"], 11), fileEntry(["a", "b"], 11)]) == ["a.1", "a/b"])
        #expect(try paths([fileEntry(["a", "b"], 11), fileEntry(["a"], 11)]) == ["a/b", "a.1"])
        #expect(try paths([fileEntry([".hidden"], 11), fileEntry([".hidden"], 11)]) == [".hidden", ".1.hidden"])
        let bytes = torrent(info: multiFileInfo(files: [fileEntry(["x"], 11), fileEntry(["x"], 11)]))
        let metainfo = try parse(bytes)
        #expect(metainfo.infoBytes == Bencode.encode(.dictionary(multiFileInfo(files: [fileEntry(["x"], 11), fileEntry(["x"], 11)]))))
    }

    // Crafted to blow up a parser: one path of 40,000 components (every prefix of it once took
    // gigabytes), a length of 2^63 - 1 (the piece count overflowed), lengths summing past Int64.
    // Each is refused with its reason, at once (the suite's time bounds it; no timed assertion).
    @Test func refusesCraftedTorrentsWithoutBlowingUp() {
        let deep = (0..<40_000).map { "d\($0 % 10)" }
        guard case .unsafePath(_, let reason)? = parseError(torrent(info: multiFileInfo(files: [fileEntry(deep, 22)]))) else {
            Issue.record("a 40,000-component path was not refused")
            return
        }
        #expect(reason == "is longer than 4096 bytes")
        // Under the length limit, deep paths still get a linear conflict check.
        let long = (0..<1_000).map { "\($0 % 10)" }
        let conflict = multiFileInfo(files: [fileEntry(long, 11), fileEntry(Array(long.prefix(500)), 11)])
        #expect(
            parseError(torrent(info: conflict), strict: true) == .conflictingPaths((["top"] + long.prefix(500)).joined(separator: "/")))
        let renamed = try? parse(torrent(info: conflict)).info.files[1].path
        #expect(renamed == Array(long.prefix(499)) + ["\(long[499]).1"])
        let cousins = multiFileInfo(files: [fileEntry(long, 11), fileEntry(long.prefix(999) + ["x"], 11)])
        #expect(parseError(torrent(info: cousins)) == nil)

        var huge = multiFileInfo()
        huge["files"] = nil
        huge["length"] = .integer(.max)
        #expect(parseError(torrent(info: huge)) == .pieceCountMismatch(expected: Int(Int64.max / 16 + 1), actual: 2))
        huge["piece length"] = .integer(1 << 30)
        #expect(parseError(torrent(info: huge)) == .pieceCountMismatch(expected: 1 << 33, actual: 2))
    }

    // Paths that share directories and differ only at the end are no conflict.
    @Test func acceptsSiblingsAndCousins() throws {
        let files = [fileEntry(["a", "b", "c"], 5), fileEntry(["a", "b", "d"], 5), fileEntry(["a", "e"], 5), fileEntry(["f"], 7)]
        let metainfo = try parse(torrent(info: multiFileInfo(files: files)))
        #expect(metainfo.info.files.count == 4)
    }

    // A v2-only torrent (BEP 52: 'file tree' and 'meta version', no 'pieces') gets its own message.
    @Test func saysV2OnlyIsUnsupported() {
        let info = BencodeDictionary([
            ("file tree", .dictionary(BencodeDictionary())), ("meta version", .integer(2)), ("name", .string("x")),
            ("piece length", .integer(16384)),
        ])
        #expect(parseError(torrent(info: info)) == .v2Only)
    }

    // Sloppy optional top-level fields do not make a torrent unusable.
    @Test func toleratesOddOptionalFields() throws {
        let metainfo = try parse(
            torrent(
                info: multiFileInfo(),
                extra: [
                    ("announce", .integer(5)), ("announce-list", .list([.list([.integer(1)]), .string("x")])),
                    ("comment", .list([])), ("url-list", .string("http://one/")),
                ]))
        #expect(metainfo.trackerTiers.isEmpty)
        #expect(metainfo.comment == nil)
        #expect(metainfo.webSeeds == ["http://one/"])
    }

    // Every prefix of a valid torrent fails as bad bencode rather than parsing as a smaller one.
    @Test func everyTruncatedTorrentIsRejected() {
        let full = torrent(info: multiFileInfo(), extra: [("announce", .string("http://a/b"))])
        for cut in 0..<full.count {
            guard case .bencode? = parseError(Array(full[..<cut])) else {
                Issue.record("prefix of \(cut) bytes was not rejected as bencode")
                continue
            }
        }
    }

    // The builder's output parses back to what was put in, and mentions announce-list only when
    // there is more than one tracker (as mktorrent does).
    @Test func builderRoundTrips() throws {
        var builder = MetainfoBuilder(
            directory: "dir", files: [TorrentFile(path: ["x"], length: 5), TorrentFile(path: ["y", "z"], length: 30)],
            pieceLength: 16)
        builder.pieceHashes = [UInt8](repeating: 7, count: 60)
        builder.trackerTiers = [["http://a/ann"]]
        builder.comment = "c"
        builder.webSeeds = ["http://w1/", "http://w2/"]
        builder.source = "SRC"
        builder.isPrivate = true
        let bytes = builder.encode()
        #expect(!String(decoding: bytes, as: UTF8.self).contains("announce-list"))
        #expect(!String(decoding: bytes, as: UTF8.self).contains("creation date"))
        let metainfo = try parse(bytes)
        #expect(metainfo.info.files.map(\.path) == [["x"], ["y", "z"]])
        #expect(metainfo.info.pieceCount == 3)
        #expect(metainfo.trackerTiers == [["http://a/ann"]])
        #expect(metainfo.webSeeds == ["http://w1/", "http://w2/"])
        #expect(metainfo.info.isPrivate && metainfo.info.source == "SRC")
        builder.trackerTiers = [["http://a/ann"], ["http://b/ann"]]
        #expect(try parse(builder.encode()).trackerTiers == [["http://a/ann"], ["http://b/ann"]])
    }

    // Automatic piece length: power of two, at most 2,048 pieces, within 16 KiB ... 16 MiB.
    @Test func automaticPieceLengthScalesWithSize() {
        #expect(MetainfoBuilder.automaticPieceLength(forTotalLength: 1) == 16 << 10)
        #expect(MetainfoBuilder.automaticPieceLength(forTotalLength: 1 << 30) == 512 << 10)
        #expect(MetainfoBuilder.automaticPieceLength(forTotalLength: 1 << 40) == 16 << 20)
        for exponent in 10..<45 {
            let total = Int64(1) << exponent + 12345
            let length = MetainfoBuilder.automaticPieceLength(forTotalLength: total)
            #expect(length & (length - 1) == 0)
            #expect((total + Int64(length) - 1) / Int64(length) <= 2048 || length == 16 << 20)
        }
    }
}
