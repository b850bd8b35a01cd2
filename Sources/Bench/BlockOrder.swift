import TorrentCore

/// Every block of a torrent in the order one bench peer asks for them, from its own starting piece
/// (to spread the load), made as it goes: 10,000 idle peers of a 1 GiB torrent would otherwise hold
/// 65,536 requests each. Blocks given back (choke, reject) come first.
struct BlockOrder {
    private let layout: FileLayout
    private let start: Int
    private var step = 0
    private var offset = 0
    private var retry: [BlockRequest] = []

    /// The order for a torrent laid out by `layout`, beginning at piece `start`.
    init(layout: FileLayout, start: Int) {
        self.layout = layout
        self.start = start
    }

    /// Whether every block has been handed out and none given back.
    var isEmpty: Bool { retry.isEmpty && step >= layout.pieceCount }

    /// The next block to ask for.
    mutating func next() -> BlockRequest? {
        if let again = retry.popLast() { return again }
        guard step < layout.pieceCount else { return nil }
        let piece = PieceIndex((start + step) % layout.pieceCount)
        let length = layout.length(of: piece)
        let request = BlockRequest(piece: piece, offset: offset, length: min(16_384, length - offset))
        offset += 16_384
        if offset >= length {
            offset = 0
            step += 1
        }
        return request
    }

    /// Blocks to ask for again, before anything new, in their original order.
    mutating func giveBack(_ requests: [BlockRequest]) { retry.append(contentsOf: requests.reversed()) }
}
