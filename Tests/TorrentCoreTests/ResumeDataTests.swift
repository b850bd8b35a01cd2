import Testing

@testable import TorrentCore

@Suite struct ResumeDataTests {
    let hash = InfoHash(bytes: [UInt8](repeating: 4, count: 20))!

    // What a resume file holds reads back the same, the unclean mark included; a file from
    // before the mark existed reads as clean (it was written the way clean ones are trusted).
    @Test func roundTripsWithTheCleanMark() throws {
        var pieces = Bitfield(count: 10)
        pieces[PieceIndex(3)] = true
        var data = ResumeData(infoHash: hash, pieces: pieces, files: [.init(size: 5, modificationTime: 7)])
        data.uploaded = 11
        data.clean = false
        let read = try #require(ResumeData(bencoded: data.encoded(), infoHash: hash, pieceCount: 10, fileCount: 1))
        #expect(read == data && !read.clean)
        let old = Array("d10:downloadedi0e5:fileslli5ei7eee9:info-hash20:\(String(repeating: "\u{4}", count: 20))11:piece-counti10e6:pieces2:\u{10}\u{0}8:uploadedi0e7:versioni1ee".utf8)
        let legacy = try #require(ResumeData(bencoded: old, infoHash: hash, pieceCount: 10, fileCount: 1))
        #expect(legacy.clean && legacy.pieces[PieceIndex(3)])
    }
}
