import Testing
import TorrentCore

@testable import Client

@Suite struct ContentLocationTests {
    private func metainfo(_ builder: MetainfoBuilder) throws -> Metainfo {
        var builder = builder
        let total = builder.files?.reduce(0) { $0 + $1.length } ?? builder.singleFileLength
        builder.pieceHashes = [UInt8](repeating: 7, count: 20 * Int((total + 16_383) / 16_384))
        return try MetainfoLoader.parse(builder.encode(), path: "test")
    }

    // A location spells each path as the torrent names it in its folder, or as renamed, the
    // same one by one as all at once.
    @Test func spellsPathsWhenAsked() throws {
        let single = try metainfo(MetainfoBuilder(singleFile: "one.iso", length: 20_000, pieceLength: 16_384))
        let alone = ContentLocation(metainfo: single, directory: "/data")
        #expect(alone.paths == ["/data/one.iso"] && alone.path(of: 0) == "/data/one.iso" && alone.fileCount == 1)
        #expect(!alone.isPadding[0])

        let files = [
            TorrentFile(path: ["a.bin"], length: 10_000), TorrentFile(path: [".pad", "6384"], length: 6_384, attributes: "p"),
            TorrentFile(path: ["sub", "b.bin"], length: 5),
        ]
        let multi = try metainfo(MetainfoBuilder(directory: "Album", files: files, pieceLength: 16_384))
        let named = ContentLocation(metainfo: multi, directory: "/srv/dl")
        let expected = ["/srv/dl/Album/a.bin", "/srv/dl/Album/.pad/6384", "/srv/dl/Album/sub/b.bin"]
        #expect(named.paths == expected && (0..<3).map(named.path(of:)) == expected)

        let renamed = ContentLocation(metainfo: multi, directory: "/srv/dl", names: ["Other/a.bin", "Other/.pad/6384", "Other/c.bin"])
        #expect(renamed.paths == ["/srv/dl/Other/a.bin", "/srv/dl/Other/.pad/6384", "/srv/dl/Other/c.bin"])
        #expect(renamed.path(of: 2) == "/srv/dl/Other/c.bin")
        // Names that do not fit the files are not used.
        #expect(ContentLocation(metainfo: multi, directory: "/srv/dl", names: ["x"]).paths == expected)
        let listed = ContentLocation(layout: multi.info.layout, paths: ["/1", "/2", "/3"], isPadding: [false, true, false])
        #expect(listed.path(of: 1) == "/2" && listed.paths == ["/1", "/2", "/3"] && listed.isPadding[1] && !listed.isPadding[2])
    }
}
