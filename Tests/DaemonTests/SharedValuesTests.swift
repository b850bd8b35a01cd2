import Foundation
import Client
import Reactor
import ReactorTesting
import Testing
import TorrentCore

@testable import Daemon

@Suite struct SharedValuesTests {
    /// Where a string's bytes are (nil for one short enough to be kept inline).
    static func storage(_ string: String) -> UnsafePointer<UInt8>? {
        var copy = string
        return copy.withUTF8 { $0.baseAddress }
    }

    // Equal values come back as the first one's copy; different ones stay apart.
    @Test func equalValuesComeBackAsOneCopy() {
        let shared = SharedValues()
        let folder = "/srv/torrents/" + String(repeating: "d", count: 30)
        let first = shared.string(folder)
        let again = shared.string(String(folder.utf8.map { Character(UnicodeScalar($0)) }))
        #expect(again == folder && Self.storage(again) == Self.storage(first))
        let other = shared.string(folder + "/other")
        #expect(other == folder + "/other" && Self.storage(other) != Self.storage(first))

        let url = "https://tracker.example.org/announce?passkey=" + String(repeating: "0f", count: 16)
        let tiers = shared.tiers([[url], [url + "&backup"]])
        let equal = shared.tiers([[String(Array(url))], [String(Array(url + "&backup"))]])
        #expect(equal == tiers && Self.storage(equal[0][0]) == Self.storage(tiers[0][0]))
        // A tracker in a tier of its own elsewhere is the same string too.
        #expect(Self.storage(shared.tiers([[String(Array(url))]])[0][0]) == Self.storage(tiers[0][0]))
        #expect(shared.tiers([]) == [])
    }

    // Torrents loaded from one config directory share their tracker URL and download folder.
    @Test func torrentsLoadedTogetherShareTheirTrackersAndFolder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let config = ConfigDirectory(path: directory.path + "/config")
        try config.prepare()
        let url = "http://tracker.example.org:6969/" + String(repeating: "k", count: 32) + "/announce"
        let folder = directory.path + "/downloads/" + String(repeating: "f", count: 20)
        for name in ["a", "b", "c"] {
            let info = BencodeValue.dictionary(BencodeDictionary([
                ("length", .integer(16384)), ("name", .bytes(Array(name.utf8))), ("piece length", .integer(16384)),
                ("pieces", .bytes([UInt8](repeating: UInt8(name.utf8.first!), count: 20))),
            ]))
            let bytes = Bencode.encode(.dictionary(BencodeDictionary([("announce", .bytes(Array(url.utf8))), ("info", info)])))
            let hash = try MetainfoLoader.parse(bytes, path: name).infoHash
            try config.save(bytes, ConfigDirectory.Record(downloadDirectory: String(Array(folder)), addedDate: 1, paused: true, labels: []), for: hash)
        }
        let pool = WorkerPool(threads: 2)
        defer { pool.shutdown() }
        var loaded: [ConfigDirectory.Stored] = []
        config.load(ConfigFiles(root: config.path, snapshot: nil), on: pool, sharing: SharedValues(), found: { _ in }, skipped: { _, _ in }) {
            loaded.append($0)
        }
        #expect(loaded.count == 3)
        let urls = Set(loaded.map { Self.storage($0.metainfo.trackerTiers[0][0]) })
        let folders = Set(loaded.map { Self.storage($0.record.downloadDirectory) })
        #expect(urls.count == 1 && folders.count == 1 && loaded.allSatisfy { $0.record.downloadDirectory == folder })
    }
}
