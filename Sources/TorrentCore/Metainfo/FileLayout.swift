/// A contiguous run of bytes inside one file of a torrent.
public struct FileSpan: Equatable, Sendable {
    /// The file the bytes are in.
    public let file: FileIndex
    /// Where the run starts within that file.
    public let offset: Int64
    /// How many bytes the run has.
    public let length: Int

    /// A run of `length` bytes at `offset` in `file`.
    public init(file: FileIndex, offset: Int64, length: Int) {
        self.file = file
        self.offset = offset
        self.length = length
    }
}

/// Maps the torrent's byte stream (all files end to end, in order) onto pieces and file spans.
///
/// The torrent is one stream of `totalLength` bytes cut into pieces of `pieceLength` bytes (the last
/// one shorter); files are consecutive ranges of that stream. This is mainline's Storage interval
/// arithmetic, with no disk behind it.
///
/// It keeps where each file after the first starts, and nothing else per file: a single-file
/// torrent (most of a daemon's thousands) keeps no array at all.
public struct FileLayout: Equatable, Sendable {
    /// Where files 1, 2, … start in the stream (file 0 starts at 0; its end is the next start).
    private let laterStarts: [Int64]
    /// How many files the layout has.
    public let fileCount: Int
    /// The nominal piece length; every piece but the last has exactly this many bytes.
    public let pieceLength: Int
    /// The sum of all file lengths.
    public let totalLength: Int64

    /// A layout over files of `fileLengths` bytes, cut into pieces of `pieceLength` bytes.
    ///
    /// Lengths must be non-negative and sum to at most `Int64.max`; the metainfo parser checks that
    /// before building a layout.
    public init(fileLengths: [Int64], pieceLength: Int) {
        precondition(pieceLength > 0, "piece length must be positive")
        var starts: [Int64] = []
        if fileLengths.count > 1 { starts.reserveCapacity(fileLengths.count - 1) }
        var total: Int64 = 0
        for (index, length) in fileLengths.enumerated() {
            precondition(length >= 0, "file length must not be negative")
            if index > 0 { starts.append(total) }
            total += length
        }
        laterStarts = starts
        fileCount = fileLengths.count
        self.pieceLength = pieceLength
        self.totalLength = total
    }

    /// File `index`'s first byte in the stream.
    @inline(__always)
    public func offset(ofFile index: Int) -> Int64 {
        precondition(index >= 0 && index < fileCount, "file \(index) out of range")
        return index == 0 ? 0 : laterStarts[index - 1]
    }

    /// File `index`'s length.
    @inline(__always)
    public func length(ofFile index: Int) -> Int64 {
        (index + 1 < fileCount ? laterStarts[index] : totalLength) - offset(ofFile: index)
    }

    /// Each file's length, in torrent order (made when asked).
    public var fileLengths: [Int64] { (0..<fileCount).map { length(ofFile: $0) } }
    /// Each file's first byte in the stream (made when asked).
    public var fileOffsets: [Int64] { (0..<fileCount).map { offset(ofFile: $0) } }

    /// How many pieces the stream has.
    public var pieceCount: Int { Self.pieceCount(totalLength: totalLength, pieceLength: pieceLength) }

    /// How many pieces of `pieceLength` bytes hold `totalLength` bytes. Rounded up without adding
    /// first: a total near `Int64.max` from a hostile torrent must not overflow before the parser
    /// compares this with the hashes it has.
    public static func pieceCount(totalLength: Int64, pieceLength: Int) -> Int {
        let (whole, rest) = totalLength.quotientAndRemainder(dividingBy: Int64(pieceLength))
        return Int(whole) + (rest > 0 ? 1 : 0)
    }

    /// The number of bytes in `piece` (the last piece may be shorter).
    public func length(of piece: PieceIndex) -> Int {
        precondition(piece.value >= 0 && piece.value < pieceCount, "piece \(piece) out of range")
        let start = Int64(piece.value) * Int64(pieceLength)
        return Int(min(Int64(pieceLength), totalLength - start))
    }

    /// The stream range covered by `piece`.
    public func byteRange(of piece: PieceIndex) -> Range<Int64> {
        let start = Int64(piece.value) * Int64(pieceLength)
        return start..<start + Int64(length(of: piece))
    }

    /// The file spans that hold `piece`, in stream order; empty files contribute nothing.
    public func spans(of piece: PieceIndex) -> [FileSpan] {
        spans(covering: byteRange(of: piece))
    }

    /// The file spans that hold the stream bytes in `range`, in order; empty files contribute nothing.
    public func spans(covering range: Range<Int64>) -> [FileSpan] {
        precondition(range.lowerBound >= 0 && range.upperBound <= totalLength, "range outside the torrent")
        guard !range.isEmpty else { return [] }
        var result: [FileSpan] = []
        var file = fileContaining(range.lowerBound)
        var position = range.lowerBound
        while position < range.upperBound {
            let start = offset(ofFile: file)
            let end = min(start + length(ofFile: file), range.upperBound)
            if end > position {
                result.append(FileSpan(file: FileIndex(file), offset: position - start, length: Int(end - position)))
            }
            position = end
            file += 1
        }
        return result
    }

    /// The single file span holding all of `range`, or nil if the range is empty or crosses
    /// into another file (then use `spans(covering:)`). Most blocks need no array this way.
    public func span(within range: Range<Int64>) -> FileSpan? {
        guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= totalLength else { return nil }
        // Every block served goes through here: the search and the file's bounds are read from the
        // buffer without bounds checks (the search keeps its indices within it).
        return laterStarts.withUnsafeBufferPointer { starts in
            let file = Self.lastStart(atOrBefore: range.lowerBound, in: starts)
            let start = file == 0 ? 0 : starts[file - 1]
            let end = file < starts.count ? starts[file] : totalLength
            guard range.upperBound <= end else { return nil }
            return FileSpan(file: FileIndex(file), offset: range.lowerBound - start, length: Int(range.count))
        }
    }

    /// The pieces that hold any byte of `file`; nil for an empty file.
    public func pieces(of file: FileIndex) -> ClosedRange<PieceIndex>? {
        let length = length(ofFile: file.value)
        guard length > 0 else { return nil }
        let start = offset(ofFile: file.value)
        let first = PieceIndex(Int(start / Int64(pieceLength)))
        let last = PieceIndex(Int((start + length - 1) / Int64(pieceLength)))
        return first...last
    }

    /// The index of the non-empty file that holds stream byte `position` (within the stream).
    @inline(__always)
    private func fileContaining(_ position: Int64) -> Int {
        laterStarts.withUnsafeBufferPointer { Self.lastStart(atOrBefore: position, in: $0) }
    }

    /// How many files after the first start at or before `position`: the index of the last file
    /// that does (a single file: no search at all). That file holds `position` and is not empty,
    /// for the file after it starts past `position`; empty files before it start where it does.
    @inline(__always)
    private static func lastStart(atOrBefore position: Int64, in starts: UnsafeBufferPointer<Int64>) -> Int {
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low + high) >> 1
            if starts[mid] <= position { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
