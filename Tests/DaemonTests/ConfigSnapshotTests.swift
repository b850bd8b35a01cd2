import Foundation
import Reactor
import ReactorTesting
import Testing

@testable import Daemon

@Suite struct ConfigSnapshotTests {
    let fingerprint = ConfigSnapshot.Fingerprint(values: [7, 1_700_000_000_123_456_789, -1, 8, 2, 3])
    let files: [(ConfigSnapshot.Folder, String, [UInt8])] = [
        (.torrents, "aa.torrent", Array("d4:infod4:name1:aee".utf8)), (.torrents, "aa.json", Array(#"{"download-dir":"/d"}"#.utf8)),
        (.torrents, "bb.magnet", Array("magnet:?xt=urn:btih:bb".utf8)), (.resume, "aa.resume", []),
    ]

    // What is packed reads back: every name in its folder, the bytes, the fingerprint.
    @Test func packsAndReadsBack() throws {
        let snapshot = try #require(ConfigSnapshot(parsing: ConfigSnapshot.encode(fingerprint, files)))
        #expect(snapshot.fingerprint == fingerprint)
        #expect(snapshot.names(in: .torrents) == ["aa.torrent", "aa.json", "bb.magnet"])
        #expect(snapshot.names(in: .resume) == ["aa.resume"])
        for (folder, name, contents) in files { #expect(snapshot.contents(folder, name) == contents) }
        #expect(snapshot.contents(.resume, "aa.torrent") == nil && !snapshot.has(.torrents, "aa.resume"))
    }

    // Anything but a whole snapshot is refused: every cut, a byte more, another magic, a name
    // with a slash, a name loading would not read.
    @Test func refusesDamagedSnapshots() {
        let bytes = ConfigSnapshot.encode(fingerprint, files)
        for length in 0..<bytes.count { #expect(ConfigSnapshot(parsing: Array(bytes[..<length])) == nil, "cut at \(length)") }
        #expect(ConfigSnapshot(parsing: bytes + [0]) == nil)
        var other = bytes
        other[0] ^= 1
        #expect(ConfigSnapshot(parsing: other) == nil)
        #expect(ConfigSnapshot(parsing: ConfigSnapshot.encode(fingerprint, [(.torrents, "../x.torrent", [])])) == nil)
        #expect(ConfigSnapshot(parsing: ConfigSnapshot.encode(fingerprint, [(.resume, "notes.txt", [])])) == nil)
        #expect(ConfigSnapshot(parsing: ConfigSnapshot.encode(fingerprint, [(.resume, "a.resume", []), (.resume, "a.resume", [1])])) == nil)
    }

    // Written at a stop, taken at the next start and removed at once; a folder changed meanwhile
    // (a file replaced, as every writer of the daemon's does) or a damaged snapshot is not used,
    // and says why.
    @Test func usedOnlyWhileTheFoldersAreUnchanged() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let config = ConfigDirectory(path: directory.path + "/config")
        try config.prepare()
        for (folder, name, contents) in files { try FileContents.writeAtomically(contents, to: "\(config.path)/\(folder.name)/\(name)") }
        try directory.write("config/torrents/aa.json.tmp-12", [1])
        try directory.write("config/resume/notes.txt", [2])
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }

        #expect(try config.writeSnapshot(on: pool, order: ["bb", "aa"]).get() == files.count)
        var notes: [String] = []
        let taken = try #require(config.takeSnapshot { notes.append($0) })
        #expect(try notes.isEmpty && FileStatus.of(config.snapshotPath) == nil)
        #expect(taken.contents(.torrents, "aa.json") == files[1].2 && !taken.has(.torrents, "aa.json.tmp-12"))
        let fromSnapshot = ConfigFiles(root: config.path, snapshot: taken)
        let fromDisk = ConfigFiles(root: config.path, snapshot: nil)
        #expect(Set(fromSnapshot.names(in: .torrents)) == Set(fromDisk.names(in: .torrents)))
        // Packed in the order given, oldest torrent first: the next start attaches them as parsed.
        #expect(taken.names(in: .torrents) == ["bb.magnet", "aa.json", "aa.torrent"])
        #expect(try fromSnapshot.read(.resume, "aa.resume", limit: 10) == fromDisk.read(.resume, "aa.resume", limit: 10))
        #expect(throws: SystemError.self) { try fromSnapshot.read(.torrents, "aa.torrent", limit: 4) }
        #expect(throws: SystemError.self) { try fromSnapshot.read(.torrents, "cc.torrent", limit: 1 << 20) }
        #expect(config.takeSnapshot { notes.append($0) } == nil && notes.isEmpty)

        _ = try config.writeSnapshot(on: pool).get()
        try FileContents.writeAtomically(Array("d5:cleani0ee".utf8), to: config.path + "/resume/aa.resume")
        #expect(config.takeSnapshot { notes.append($0) } == nil)
        #expect(try notes == ["torrents/ or resume/ changed since it was written"] && FileStatus.of(config.snapshotPath) == nil)

        try FileContents.writeAtomically(Array("not a snapshot".utf8), to: config.snapshotPath)
        #expect(config.takeSnapshot { notes.append($0) } == nil)
        #expect(try notes.last == "it is not a snapshot this version wrote" && FileStatus.of(config.snapshotPath) == nil)
    }
}
