import Reactor
import TorrentCore

/// How a torrent downloads.
public struct DownloadOptions: Equatable, Sendable {
    /// Per-piece priorities (0 skips the piece); nil wants everything.
    public var piecePriorities: [UInt8]?
    /// Fetch pieces in order.
    public var sequential = false
    /// Reserve each file's space when it is created instead of leaving it sparse.
    public var preallocate = false
    /// Where the resume file is kept; nil keeps none.
    public var resume: ResumeStore?
    /// How often resume data is written while pieces arrive.
    public var resumeInterval: Duration = .seconds(5)
    /// Unchoke slots while downloading (tit-for-tat), plus one optimistic.
    public var unchokeSlots = 4

    /// The defaults: everything, rarest first, sparse files.
    public init() {}
}
