import Reactor

/// What `Torrent.queueBlock` did.
enum BlockQueueing {
    /// The block is queued.
    case queued
    /// This part is not in the page cache; nothing was queued.
    case cold(FileBlock)
    /// A file could not be opened or read.
    case failed(SystemError)
}

/// A piece of a block: bytes of one file, or zeros for a BEP 47 padding file.
enum BlockPart {
    case file(FileBlock)
    case zeros(Int)
}
