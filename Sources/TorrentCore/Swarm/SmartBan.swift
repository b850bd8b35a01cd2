/// One piece being put together from blocks: its bytes and, per block, the host that sent it.
public final class PieceAssembly {
    /// The piece's bytes; every byte is written by some block before the piece is hashed.
    public var bytes: [UInt8]
    /// Per 16 KiB block, the host that sent it (nil while missing).
    public var sources: [String?]

    /// An empty piece of `length` bytes.
    public init(length: Int) {
        // Every byte is written by a block before the piece is hashed: no need to zero it.
        bytes = [UInt8](unsafeUninitializedCapacity: length) { _, count in count = length }
        sources = [String?](repeating: nil, count: (length + PiecePicker.blockLength - 1) / PiecePicker.blockLength)
    }

    /// Copies `data` in at `offset` and remembers who sent it.
    public func store(_ data: ArraySlice<UInt8>, at offset: Int, from host: String) {
        bytes.withUnsafeMutableBytes { target in
            data.withUnsafeBytes { target.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        }
        sources[offset / PiecePicker.blockLength] = host
    }

    /// Every host that sent a block of it, sorted.
    public var senders: [String] { Set(sources.compactMap { $0 }).sorted() }
}

/// Who sent bad data (libtorrent's smart ban, by host). A piece that fails its hash check and came
/// from one host alone strikes that host. A failed piece from several hosts is kept (the last
/// three copies) until the piece verifies; then each block of each failed copy is compared with
/// the good one, and every host whose block differed gets a strike. Two strikes ban the host.
public struct SmartBan {
    /// Strikes that ban a host.
    public static let strikesToBan = 2
    /// Failed copies kept per piece.
    public static let copiesKept = 3
    private var strikes: [String: Int] = [:]
    private var failedCopies: [PieceIndex: [PieceAssembly]] = [:]
    /// Hosts banned so far.
    public private(set) var banned: Set<String> = []

    /// No strikes, nobody banned.
    public init() {}

    /// `piece` failed its hash check; returns the hosts that are now banned.
    public mutating func pieceFailed(_ piece: PieceIndex, _ copy: PieceAssembly) -> [String] {
        let senders = copy.senders
        if senders.count == 1 { return strike(senders) }
        failedCopies[piece, default: []].append(copy)
        if failedCopies[piece]!.count > Self.copiesKept { failedCopies[piece]!.removeFirst() }
        return []
    }

    /// `piece` verified with `good` bytes; returns the hosts that are now banned.
    public mutating func pieceVerified(_ piece: PieceIndex, good: [UInt8]) -> [String] {
        guard let copies = failedCopies.removeValue(forKey: piece) else { return [] }
        var banned: [String] = []
        for copy in copies {
            var culprits = Set<String>()
            for (block, source) in copy.sources.enumerated() {
                guard let source else { continue }
                let start = block * PiecePicker.blockLength
                let end = min(start + PiecePicker.blockLength, good.count)
                if !copy.bytes[start..<end].elementsEqual(good[start..<end]) { culprits.insert(source) }
            }
            banned += strike(culprits.sorted())
        }
        return banned
    }

    private mutating func strike(_ hosts: [String]) -> [String] {
        var newlyBanned: [String] = []
        for host in hosts {
            strikes[host, default: 0] += 1
            if strikes[host]! >= Self.strikesToBan, banned.insert(host).inserted { newlyBanned.append(host) }
        }
        return newlyBanned
    }
}
