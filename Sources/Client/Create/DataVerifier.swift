import Reactor
import TorrentCore

/// What checking a torrent's data on disk found.
public struct VerificationReport: Sendable {
    /// One bit per piece: set if the piece's bytes on disk hash to the expected SHA-1.
    public let goodPieces: Bitfield
    /// Files that do not exist.
    public let missingFiles: [FileIndex]
    /// Files whose size on disk differs from the torrent's (with the size found).
    public let wrongSizeFiles: [(file: FileIndex, size: Int64)]
    /// Files with at least one bad or unreadable piece.
    public let damagedFiles: [FileIndex]
    /// Read errors other than missing or short files.
    public let readErrors: [SystemError]

    /// Whether every piece verified.
    public var isComplete: Bool { goodPieces.isFull }
    /// Whether the data is exactly what the torrent describes: every piece verified, and every
    /// file present with its exact size (a grown file or a missing empty file is not intact).
    public var isIntact: Bool {
        isComplete && missingFiles.isEmpty && wrongSizeFiles.isEmpty && readErrors.isEmpty
    }
    /// The pieces that did not verify, in order.
    public var badPieces: [PieceIndex] {
        (0..<goodPieces.count).map(PieceIndex.init).filter { !goodPieces[$0] }
    }
}

/// Hash-checks a torrent's data on disk (`evtorrent verify`, and at seed start-up).
public enum DataVerifier {
    /// Checks every piece of `metainfo` against the content at `directory/name`.
    public static func verify(
        _ metainfo: Metainfo, directory: String, pool: WorkerPool,
        progress: (_ piecesDone: Int, _ pieceCount: Int, _ bytesDone: Int64) -> Void = { _, _, _ in }
    ) -> VerificationReport {
        let info = metainfo.info
        let location = ContentLocation(metainfo: metainfo, directory: directory)
        var missing: [FileIndex] = []
        var wrongSize: [(FileIndex, Int64)] = []
        for (index, path) in location.paths.enumerated() where !location.isPadding[index] {
            let status = try? FileStatus.of(path)
            if let status, status.kind == .regular {
                if status.size != info.files[index].length { wrongSize.append((FileIndex(index), status.size)) }
            } else {
                missing.append(FileIndex(index))
            }
        }

        let pieceCount = info.pieceCount
        let outcomes = PieceHasher(pool: pool).hash(location) { done, bytes in progress(done, pieceCount, bytes) }
        var good = Bitfield(count: pieceCount)
        var errors: [SystemError] = []
        for (index, outcome) in outcomes.enumerated() {
            let piece = PieceIndex(index)
            switch outcome {
            case .digest(let digest): good[piece] = info.hash(of: piece).elementsEqual(digest)
            case .readFailed(let error): errors.append(error)
            case .missingFile, .shortFile: break
            }
        }
        let damaged = (0..<info.files.count).map(FileIndex.init).filter { file in
            guard let pieces = info.layout.pieces(of: file) else { return false }
            return pieces.contains { !good[$0] }
        }
        return VerificationReport(
            goodPieces: good, missingFiles: missing, wrongSizeFiles: wrongSize, damagedFiles: damaged,
            readErrors: errors)
    }
}
