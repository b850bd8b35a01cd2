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
public struct FileLayout: Equatable, Sendable {
    /// Each file's length, in torrent order.
    public let fileLengths: [Int64]
    /// Each file's first byte in the stream.
    public let fileOffsets: [Int64]
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
        var offsets: [Int64] = []
        offsets.reserveCapacity(fileLengths.count)
        var total: Int64 = 0
        for length in fileLengths {
            precondition(length >= 0, "file length must not be negative")
            offsets.append(total)
            total += length
        }
        self.fileLengths = fileLengths
        self.fileOffsets = offsets
        self.pieceLength = pieceLength
        self.totalLength = total
    }

    /// How many pieces the stream has.
    public var pieceCount: Int { Self.pieceCount(totalLength: totalLength, pieceLength: pieceLength) }

    /// How many pieces of `pieceLength` bytes hold `totalLength` bytes. Rounded up without adding
    /// first: a total near `Int64.max` from a hostile torrent must not overflow before the parser
    /// compares this with the hashes it has.
    public static func pieceCount(totalLength: Int64, pieceLength: Int) -> Int {
        let (whole, rest) = totalLength.quotientAndRemainder(dividingBy: Int64(pieceLength))
        return Int(whole) + (rest > 0 ? 1 : 0)
    }

    /// How many files the layout has.
    public var fileCount: Int { fileLengths.count }

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
            let fileEnd = fileOffsets[file] + fileLengths[file]
            let end = min(fileEnd, range.upperBound)
            if end > position {
                result.append(
                    FileSpan(file: FileIndex(file), offset: position - fileOffsets[file], length: Int(end - position)))
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
        let file = fileContaining(range.lowerBound)
        guard range.upperBound <= fileOffsets[file] + fileLengths[file] else { return nil }
        return FileSpan(file: FileIndex(file), offset: range.lowerBound - fileOffsets[file], length: Int(range.count))
    }

    /// The pieces that hold any byte of `file`; nil for an empty file.
    public func pieces(of file: FileIndex) -> ClosedRange<PieceIndex>? {
        let length = fileLengths[file.value]
        guard length > 0 else { return nil }
        let start = fileOffsets[file.value]
        let first = PieceIndex(Int(start / Int64(pieceLength)))
        let last = PieceIndex(Int((start + length - 1) / Int64(pieceLength)))
        return first...last
    }

    /// The index of the non-empty file that holds stream byte `position`.
    private func fileContaining(_ position: Int64) -> Int {
        // Last file whose offset is <= position, then skip forward past empty files.
        var low = 0
        var high = fileOffsets.count
        while low < high {
            let mid = (low + high) / 2
            if fileOffsets[mid] <= position { low = mid + 1 } else { high = mid }
        }
        var file = max(low - 1, 0)
        while fileLengths[file] == 0 || fileOffsets[file] + fileLengths[file] <= position { file += 1 }
        return file
    }
}
