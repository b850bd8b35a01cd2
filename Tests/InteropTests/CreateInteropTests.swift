import Foundation
import Testing
import ReactorTesting

/// `evtorrent create`/`info`/`verify` against mktorrent, python3-libtorrent and transmission.
@Suite(.serialized) struct CreateInteropTests {
    /// A tree with the awkward cases: nested dirs, a name that sorts differently by path and by
    /// component ("a-c" vs "a/b"), upper case, a hidden file, an empty file, and files that are not
    /// piece-aligned.
    private func makeContent(in directory: TemporaryDirectory) throws {
        try directory.write("data/a/b", patternBytes(100_003, seed: 1))
        try directory.write("data/a-c", patternBytes(65_536, seed: 2))
        try directory.write("data/B/x", patternBytes(7, seed: 3))
        try directory.write("data/.hidden", patternBytes(33_333, seed: 4))
        try directory.write("data/empty", [])
        try directory.write("data/deep/er/still.bin", patternBytes(200_000, seed: 5))
        try directory.write("single.iso", patternBytes(300_001, seed: 6))
    }

    private func infoHash(ofTorrent path: String) throws -> String {
        let json = try Tools.check([Tools.evtorrent, "info", "--json", path])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return try #require(object?["info_hash"] as? String)
    }

    /// libtorrent's own reading of a torrent: v1 info hash, file count, piece count.
    private func libtorrentReads(_ path: String) throws -> (hash: String, files: Int, pieces: Int) {
        let script = """
            import sys, libtorrent as lt
            ti = lt.torrent_info(sys.argv[1])
            print(ti.info_hashes().v1, ti.num_files(), ti.num_pieces())
            """
        let fields = try Tools.check([Tools.python, "-c", script, path]).split(separator: " ")
        try #require(fields.count == 3)
        return (String(fields[0]), Int(fields[1].trimmingCharacters(in: .whitespacesAndNewlines))!,
                Int(fields[2].trimmingCharacters(in: .whitespacesAndNewlines))!)
    }

    // Same content and piece length, same info hash as mktorrent, for a directory and a single
    // file and for several piece lengths: the encoding, file order and piece hashing all agree.
    @Test(.enabled(if: Tools.enabled("mktorrent")))
    func infoHashMatchesMktorrent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try makeContent(in: directory)
        for exponent in [15, 18] {
            for content in ["data", "single.iso"] {
                let ours = "\(content)-\(exponent)-ev.torrent"
                let theirs = "\(content)-\(exponent)-mk.torrent"
                try Tools.check(
                    [Tools.evtorrent, "create", content, "-l", String(exponent), "-t", "http://127.0.0.1:6969/announce",
                     "-o", ours], in: directory.path)
                try Tools.check(
                    ["mktorrent", "-l", String(exponent), "-a", "http://127.0.0.1:6969/announce", "-o", theirs, content],
                    in: directory.path)
                let ourHash = try infoHash(ofTorrent: directory.path + "/" + ours)
                let theirHash = try infoHash(ofTorrent: directory.path + "/" + theirs)
                #expect(ourHash == theirHash, "\(content) with 2^\(exponent) pieces")
            }
        }
    }

    // libtorrent, building a v1 torrent from the same files in the same order, gets our info
    // hash; and libtorrent reads our file with the same hash, files and pieces.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func infoHashMatchesLibtorrentAndLibtorrentReadsOurs() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try makeContent(in: directory)
        try Tools.check([Tools.evtorrent, "create", "data", "-l", "32K", "-o", "ev.torrent"], in: directory.path)
        let ourHash = try infoHash(ofTorrent: directory.path + "/ev.torrent")

        // Give libtorrent our file order (its own directory scan follows readdir order).
        let json = try Tools.check([Tools.evtorrent, "info", "--json", "ev.torrent"], in: directory.path)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let files = try #require(object?["files"] as? [[String: Any]])
        let list = files.map { "\($0["path"]!)\t\($0["length"]!)" }.joined(separator: "\n")
        let script = """
            import sys, libtorrent as lt
            fs = lt.file_storage()
            for line in sys.argv[2].split("\\n"):
                path, size = line.split("\\t")
                fs.add_file(path, int(size))
            ct = lt.create_torrent(fs, 32768, flags=lt.create_torrent.v1_only)
            lt.set_piece_hashes(ct, sys.argv[1])
            open(sys.argv[3], "wb").write(lt.bencode(ct.generate()))
            """
        try Tools.check([Tools.python, "-c", script, directory.path, list, directory.path + "/lt.torrent"])
        #expect(try infoHash(ofTorrent: directory.path + "/lt.torrent") == ourHash)

        let read = try libtorrentReads(directory.path + "/ev.torrent")
        #expect(read.hash == ourHash)
        #expect(read.files == 6)
        #expect(read.pieces == (100_003 + 65_536 + 7 + 33_333 + 200_000 + 32_767) / 32_768)
    }

    // transmission-show accepts our torrent and reports our info hash.
    @Test(.enabled(if: Tools.enabled("transmission-show")))
    func transmissionShowReadsOurs() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try makeContent(in: directory)
        try Tools.check(
            [Tools.evtorrent, "create", "data", "-t", "http://127.0.0.1:6969/announce", "-c", "interop", "-o", "ev.torrent"],
            in: directory.path)
        let hash = try infoHash(ofTorrent: directory.path + "/ev.torrent")
        let shown = try Tools.check(["transmission-show", "ev.torrent"], in: directory.path)
        #expect(shown.contains("Hash: \(hash)"))
        #expect(shown.contains("http://127.0.0.1:6969/announce"))
        #expect(shown.contains("interop"))
    }

    // `evtorrent info` reads torrents made by all three tools — including libtorrent's default
    // hybrid v1+v2 torrents with padding files — with the info hash libtorrent computes.
    @Test(.enabled(if: Tools.enabled("mktorrent", "transmission-create", "libtorrent")))
    func infoReadsOtherToolsTorrents() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try makeContent(in: directory)
        try Tools.check(["mktorrent", "-l", "16", "-a", "http://127.0.0.1:1/a", "-o", "mk.torrent", "data"], in: directory.path)
        try Tools.check(
            ["transmission-create", "-s", "64", "-t", "http://127.0.0.1:1/a", "-o", "tr.torrent", "data"], in: directory.path)
        let script = """
            import sys, libtorrent as lt
            fs = lt.file_storage()
            lt.add_files(fs, sys.argv[1] + "/data")
            ct = lt.create_torrent(fs, 16384)
            ct.add_tracker("http://127.0.0.1:1/a")
            lt.set_piece_hashes(ct, sys.argv[1])
            open(sys.argv[1] + "/lt.torrent", "wb").write(lt.bencode(ct.generate()))
            """
        try Tools.check([Tools.python, "-c", script, directory.path])
        for name in ["mk.torrent", "tr.torrent", "lt.torrent"] {
            let path = directory.path + "/" + name
            #expect(try infoHash(ofTorrent: path) == (try libtorrentReads(path)).hash, "\(name)")
            let text = try Tools.check([Tools.evtorrent, "info", path])
            #expect(text.contains("Name:        data"), "\(name)")
            #expect(text.contains("http://127.0.0.1:1/a"), "\(name)")
        }
    }

    // `evtorrent verify` passes mktorrent's torrent over intact data and fails (exit 1, naming
    // the file) after one byte changes.
    @Test(.enabled(if: Tools.enabled("mktorrent")))
    func verifyChecksAnotherToolsTorrent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try makeContent(in: directory)
        try Tools.check(["mktorrent", "-l", "15", "-a", "http://127.0.0.1:1/a", "-o", "mk.torrent", "data"], in: directory.path)
        let ok = try Tools.run([Tools.evtorrent, "verify", "mk.torrent", "--data", "."], in: directory.path)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("OK: all"))

        var bytes = patternBytes(200_000, seed: 5)
        bytes[123_456] ^= 1
        try directory.write("data/deep/er/still.bin", bytes)
        let bad = try Tools.run([Tools.evtorrent, "verify", directory.path + "/mk.torrent", "--data", directory.path])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("damaged:    \(directory.path)/data/deep/er/still.bin"))
        #expect(bad.stdout.contains("FAILED"))
    }

    // A torrent whose dictionary keys are out of order (made by hand: "name" before "length" in
    // info, "info" before "announce" at the top) is taken, with the info hash libtorrent computes
    // for it (the bytes as found); `info --strict` refuses it, as BEP 3 would.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func unsortedKeysAreTakenAsLibtorrentTakesThem() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let pieces = String(repeating: "p", count: 20)
        let bytes = "d4:infod4:name5:a.bin12:piece lengthi16384e6:lengthi5e6:pieces20:\(pieces)e8:announce22:http://127.0.0.1:1/anne"
        try directory.write("unsorted.torrent", Array(bytes.utf8))
        let path = directory.path + "/unsorted.torrent"
        let ours = try infoHash(ofTorrent: path)
        #expect(try libtorrentReads(path).hash == ours)
        let strict = try Tools.run([Tools.evtorrent, "info", "--strict", path])
        #expect(strict.status == 1 && strict.stderr.contains("not sorted"), "\(strict.stderr)")
    }

    // A torrent naming one path twice, and a file where another file's path has a directory
    // (made by hand): libtorrent keeps every file and renames the later one; so do we, to the same
    // names. libtorrent's layout, written where libtorrent says each file goes, verifies with
    // `evtorrent verify` (a file mapped to another's place would fail its pieces);
    // `info --strict` refuses the torrent.
    @Test(.enabled(if: Tools.enabled("libtorrent")))
    func collidingPathsAreRenamedAsLibtorrentRenamesThem() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let script = """
            import hashlib, os, sys, libtorrent as lt
            def be(v):
                if isinstance(v, int): return b"i%de" % v
                if isinstance(v, str): v = v.encode()
                if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
                if isinstance(v, list): return b"l" + b"".join(be(x) for x in v) + b"e"
                return b"d" + b"".join(be(k) + be(v[k]) for k in sorted(v)) + b"e"
            paths = [["foo", "bar.txt"], ["foo", "bar.txt"], ["a"], ["a", "b"], [".hidden"], [".hidden"], ["foo", "bar.1.txt"]]
            contents = [bytes([i + 1]) * (5000 + 777 * i) for i in range(len(paths))]
            joined = b"".join(contents)
            piece = 16384
            info = {"name": "top", "piece length": piece, "files": [{"length": len(c), "path": p} for p, c in zip(paths, contents)],
                    "pieces": b"".join(hashlib.sha1(joined[i:i + piece]).digest() for i in range(0, len(joined), piece))}
            out = sys.argv[1]
            open(out + "/colliding.torrent", "wb").write(be({"info": info}))
            files = lt.torrent_info(out + "/colliding.torrent").files()
            for i in range(files.num_files()):
                path = os.path.join(out, "data", files.file_path(i))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "wb").write(contents[i])
                print(files.file_path(i))
            """
        let theirs = try Tools.check([Tools.python, "-c", script, directory.path]).split(separator: "\n").map(String.init)
        #expect(theirs == ["top/foo/bar.txt", "top/foo/bar.1.txt", "top/a.1", "top/a/b", "top/.hidden", "top/.1.hidden", "top/foo/bar.1.1.txt"])
        let path = directory.path + "/colliding.torrent"
        let json = try Tools.check([Tools.evtorrent, "info", "--json", path])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let ours = (object?["files"] as? [[String: Any]])?.compactMap { $0["path"] as? String }
        #expect(ours == theirs)
        let verified = try Tools.run([Tools.evtorrent, "verify", path, "--data", directory.path + "/data"])
        #expect(verified.status == 0 && verified.stdout.contains("OK: all"), "\(verified.stdout)\(verified.stderr)")
        let strict = try Tools.run([Tools.evtorrent, "info", "--strict", path])
        #expect(strict.status == 1 && strict.stderr.contains("is used twice"), "\(strict.stderr)")
    }

    // A creation date of -2^63 once crashed text output: it is shown as the number it is.
    @Test func infoShowsAnImpossibleDate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("dated.torrent", Array("d13:creation datei-9223372036854775808e4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee".utf8))
        let text = try Tools.check([Tools.evtorrent, "info", directory.path + "/dated.torrent"])
        #expect(text.contains("-9223372036854775808 (seconds since 1970; not a date)"))
    }

    // Bad input gives exit status 1 and a one-line reason, never a crash.
    @Test func infoRejectsBadFilesWithOneLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("garbage.torrent", Array("d4:infoi1ee".utf8))
        try directory.write("evil.torrent", Array("d4:infod6:lengthi1e4:name2:..12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee".utf8))
        // A length of 2^63 - 1 once overflowed the piece count (SIGILL); a 40,000-component path
        // once took gigabytes.
        try directory.write("huge.torrent", Array("d4:infod6:lengthi9223372036854775807e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee".utf8))
        let deep = String(repeating: "1:x", count: 40_000)
        try directory.write("deep.torrent", Array("d4:infod5:filesld6:lengthi1e4:pathl\(deep)eee4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee".utf8))
        for (name, reason) in [
            ("garbage.torrent", "'info' should be a dictionary"), ("evil.torrent", "unsafe torrent"),
            ("missing.torrent", "No such file"), ("huge.torrent", "pieces"), ("deep.torrent", "longer than 4096 bytes"),
        ] {
            let output = try Tools.run([Tools.evtorrent, "info", directory.path + "/" + name])
            #expect(output.status == 1, "\(name)")
            #expect(output.stderr.contains(reason), "\(name): \(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count == 1, "\(name): \(output.stderr)")
            #expect(output.stdout.isEmpty)
        }
    }
}
