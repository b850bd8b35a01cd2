import Testing

@testable import TorrentCore

@Suite struct FileLayoutTests {
    // Files of 5, 0, 7 and 4 bytes with 4-byte pieces: a 16-byte stream in 4 pieces. Piece 1
    // (bytes 4..<8) spans the end of file 0 and the start of file 2; the empty file 1 adds nothing.
    @Test func pieceSpansCrossFileBoundariesAndSkipEmptyFiles() {
        let layout = FileLayout(fileLengths: [5, 0, 7, 4], pieceLength: 4)
        #expect(layout.totalLength == 16)
        #expect(layout.pieceCount == 4)
        #expect(layout.spans(of: PieceIndex(0)) == [FileSpan(file: FileIndex(0), offset: 0, length: 4)])
        #expect(
            layout.spans(of: PieceIndex(1)) == [
                FileSpan(file: FileIndex(0), offset: 4, length: 1), FileSpan(file: FileIndex(2), offset: 0, length: 3),
            ])
        #expect(layout.spans(of: PieceIndex(2)) == [FileSpan(file: FileIndex(2), offset: 3, length: 4)])
        #expect(layout.spans(of: PieceIndex(3)) == [FileSpan(file: FileIndex(3), offset: 0, length: 4)])
    }

    // Each file's offset and length come back as given, for one file, none, and empty ones
    // first, between and last (only the starts after the first file are kept).
    @Test func givesBackEachFilesOffsetAndLength() {
        for lengths: [Int64] in [[10], [], [0], [0, 3], [5, 0, 7, 4], [2, 0, 0], [1, 2, 3, 4, 5, 6, 7]] {
            let layout = FileLayout(fileLengths: lengths, pieceLength: 4)
            #expect(layout.fileCount == lengths.count && layout.fileLengths == lengths, "\(lengths)")
            var offset: Int64 = 0
            for (index, length) in lengths.enumerated() {
                #expect(layout.offset(ofFile: index) == offset && layout.length(ofFile: index) == length, "\(lengths) file \(index)")
                offset += length
            }
            #expect(layout.totalLength == offset)
        }
    }

    // The last piece is shorter when the total is not a multiple of the piece length.
    @Test func lastPieceIsShort() {
        let layout = FileLayout(fileLengths: [10], pieceLength: 4)
        #expect(layout.pieceCount == 3)
        #expect([0, 1, 2].map { layout.length(of: PieceIndex($0)) } == [4, 4, 2])
        #expect(layout.byteRange(of: PieceIndex(2)) == 8..<10)
    }

    // Any byte range maps to spans that add up to its length, in order, for every split point;
    // empty files first, between and last never hold a byte.
    @Test(arguments: [[3, 0, 0, 9, 1, 0, 6], [0, 0, 4, 2], [7, 0, 0], [0, 5, 0], [8], [1, 1, 1, 1, 1, 1, 1, 1, 1]] as [[Int64]])
    func arbitraryRangesCoverExactlyTheirBytes(lengths: [Int64]) {
        let layout = FileLayout(fileLengths: lengths, pieceLength: 5)
        for start in 0...layout.totalLength {
            for end in start...layout.totalLength {
                let spans = layout.spans(covering: start..<end)
                #expect(spans.reduce(0) { $0 + $1.length } == Int(end - start))
                #expect(spans.allSatisfy { $0.length > 0 && lengths[$0.file.value] > 0 })
                if let first = spans.first {
                    #expect(layout.fileOffsets[first.file.value] + first.offset == start)
                }
                // The one-span shortcut agrees exactly when the range stays in one file.
                #expect(layout.span(within: start..<end) == (spans.count == 1 ? spans.first : nil))
            }
        }
    }

    // Which pieces hold a file: used to say which files a bad piece damages.
    @Test func piecesOfFile() {
        let layout = FileLayout(fileLengths: [5, 0, 7, 4], pieceLength: 4)
        #expect(layout.pieces(of: FileIndex(0)) == PieceIndex(0)...PieceIndex(1))
        #expect(layout.pieces(of: FileIndex(1)) == nil)
        #expect(layout.pieces(of: FileIndex(2)) == PieceIndex(1)...PieceIndex(2))
        #expect(layout.pieces(of: FileIndex(3)) == PieceIndex(3)...PieceIndex(3))
    }
}
