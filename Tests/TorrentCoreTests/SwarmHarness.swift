import Reactor

@testable import TorrentCore

/// A whole swarm in memory (h11's `ConnectionPair`, quinn's `Pair.drive()`): one leecher — a
/// `Downloader` and, per seeder, the leecher's `PeerSession` for that link — and seeders, each a
/// `PeerSession` serving from the content bytes. Messages travel encoded and are decoded on the
/// other side; `drive()` pumps until nothing moves. The harness plays the engine: it carries out
/// the leecher's actions (hashing with real SHA-1, "writing" into `written`) and unchokes every
/// interested leecher on the seeders' side.
struct SwarmHarness {
    /// One connection between the leecher and a seeder.
    struct Link {
        let key: PeerKey
        let host: String
        var leecher: PeerSession
        var seeder: PeerSession
        /// Bytes on the wire, each way.
        var toSeeder = ByteQueue()
        var toLeecher = ByteQueue()
        /// The seeder flips a byte in every block it sends.
        let corrupts: Bool
        var isOpen = true
        /// Why the leecher closed it, if it did.
        var closedBecause: PeerError?
    }

    let content: [UInt8]
    let configuration: PeerSessionConfiguration
    private let hashes: [[UInt8]]
    private(set) var downloader: Downloader
    private(set) var links: [Link] = []
    /// What the leecher wrote, at each piece's offset.
    private(set) var written: [UInt8]
    private(set) var isFinished = false
    private(set) var banned: [String] = []
    private var pending: [DownloadAction] = []
    private let decoder: PeerMessageDecoder
    private var now = ContinuousClock.now

    /// A swarm for `content` cut into `pieceLength` pieces, with one seeder per entry of
    /// `seeders` (its host, and whether it corrupts what it sends).
    init(content: [UInt8], pieceLength: Int, seeders: [(host: String, corrupts: Bool)]) {
        self.content = content
        configuration = PeerSessionConfiguration(pieceLength: pieceLength, totalLength: Int64(content.count))
        let count = configuration.pieceCount
        hashes = (0..<count).map { piece in
            let start = piece * pieceLength
            return Digest.hash(.sha1, Array(content[start..<min(start + pieceLength, content.count)]))
        }
        let picker = PiecePicker(pieceLength: pieceLength, totalLength: Int64(content.count), have: Bitfield(count: count))
        downloader = Downloader(picker: picker, seed: 11)
        written = [UInt8](repeating: 0, count: content.count)
        decoder = PeerMessageDecoder(pieceCount: count)
        for (index, seeder) in seeders.enumerated() {
            let key = PeerKey(index + 1)
            var link = Link(
                key: key, host: seeder.host,
                leecher: PeerSession(configuration: configuration, ours: Bitfield(count: count), peerSupportsFast: true, peerSupportsExtensions: false, now: now),
                seeder: PeerSession(configuration: configuration, ours: Bitfield(count: count, allSet: true), peerSupportsFast: true, peerSupportsExtensions: false, now: now),
                corrupts: seeder.corrupts)
            downloader.peerJoined(key, host: seeder.host)
            for action in link.seeder.start(now: now) { if case .send(let message) = action { link.toLeecher.append(message.encoded()) } }
            let opening = link.leecher.start(now: now)
            links.append(link)
            leecherDid(opening, on: index)
        }
    }

    /// Pumps messages and actions until nothing moves (or `limit` rounds pass). Returns the
    /// number of rounds it took.
    @discardableResult
    mutating func drive(limit: Int = 100_000) -> Int {
        for round in 0..<limit {
            var moved = false
            while !pending.isEmpty {
                moved = true
                carryOut(pending.removeFirst())
            }
            for index in links.indices where links[index].isOpen {
                moved = deliverToSeeder(index) || moved
                moved = deliverToLeecher(index) || moved
            }
            now += .milliseconds(10)
            if !moved { return round }
        }
        return limit
    }

    // MARK: - The seeders' side

    private mutating func deliverToSeeder(_ index: Int) -> Bool {
        var moved = false
        while let message = try? decoder.next(from: &links[index].toSeeder) {
            moved = true
            let wasInterested = links[index].seeder.peerInterested
            guard let actions = try? links[index].seeder.received(message, now: now) else {
                close(index, because: nil)
                return true
            }
            seederDid(actions, on: index)
            if links[index].seeder.peerInterested && !wasInterested { seederDid(links[index].seeder.setChoking(false), on: index) }
        }
        // Serve every queued request.
        while let request = links[index].seeder.nextRequest() {
            moved = true
            let start = request.piece.value * configuration.pieceLength + request.offset
            var block = Array(content[start..<start + request.length])
            if links[index].corrupts { block[0] ^= 0xFF }
            links[index].toLeecher.append(PeerMessage.piece(request, block[...]).encoded())
        }
        return moved
    }

    private mutating func seederDid(_ actions: [PeerAction], on index: Int) {
        for action in actions {
            if case .send(let message) = action { links[index].toLeecher.append(message.encoded()) }
        }
    }

    // MARK: - The leecher's side (what Client's PeerConnection and Torrent do)

    private mutating func deliverToLeecher(_ index: Int) -> Bool {
        var moved = false
        while links[index].isOpen, let message = try? decoder.next(from: &links[index].toLeecher) {
            moved = true
            do {
                let actions = try links[index].leecher.received(message, now: now)
                leecherDid(actions, on: index)
            } catch {
                close(index, because: error)
            }
        }
        if moved && links[index].isOpen { fill(index) }
        return moved
    }

    private mutating func fill(_ index: Int) {
        pending += downloader.fill(links[index].key, links[index].leecher.downloadView)
    }

    private mutating func leecherDid(_ actions: [PeerAction], on index: Int) {
        let key = links[index].key
        for action in actions {
            switch action {
            case .send(let message): links[index].toSeeder.append(message.encoded())
            case .close(let error): close(index, because: error)
            case .countPiece(let piece):
                pending += downloader.peerHas(key, piece: piece, amInterested: links[index].leecher.amInterested)
            case .countPieces(let pieces):
                pending += downloader.peerHas(key, pieces: pieces, amInterested: links[index].leecher.amInterested)
            case .storeBlock(let request, let data): pending += downloader.blockArrived(from: key, request, data)
            case .releaseRequests(let requests): pending += downloader.requestsLost(requests)
            case .extensionMessage: break
            }
        }
    }

    private mutating func close(_ index: Int, because error: PeerError?) {
        guard links[index].isOpen else { return }
        links[index].isOpen = false
        links[index].closedBecause = error
        let released = links[index].leecher.takeOutstanding()
        pending += downloader.peerLeft(links[index].key, pieces: links[index].leecher.peerPieces, released: released)
    }

    private func index(of key: PeerKey) -> Int? { links.firstIndex { $0.key == key && $0.isOpen } }

    private mutating func carryOut(_ action: DownloadAction) {
        switch action {
        case .request(let key, let requests):
            guard let index = index(of: key) else { return }
            leecherDid(links[index].leecher.sendRequests(requests, now: now), on: index)
        case .cancel(let request, let except):
            for index in links.indices where links[index].isOpen && links[index].key != except {
                leecherDid(links[index].leecher.cancel(request), on: index)
            }
        case .setInterested(let key, let interested):
            guard let index = index(of: key) else { return }
            leecherDid(links[index].leecher.setInterested(interested, now: now), on: index)
        case .refill:
            for index in links.indices where links[index].isOpen { fill(index) }
        case .verify(let piece, let bytes):
            pending += downloader.pieceHashed(piece, ok: Digest.hash(.sha1, bytes) == hashes[piece.value])
        case .write(let piece, let bytes):
            written.replaceSubrange(piece.value * configuration.pieceLength..<piece.value * configuration.pieceLength + bytes.count, with: bytes)
            pending += downloader.pieceWritten(piece)
        case .have(let piece):
            for index in links.indices where links[index].isOpen { leecherDid(links[index].leecher.weGotPiece(piece), on: index) }
        case .hashFailed, .paused, .resumed:
            break
        case .ban(let host):
            banned.append(host)
            for index in links.indices where links[index].host == host { close(index, because: .badData) }
        case .finished:
            isFinished = true
        }
    }
}
