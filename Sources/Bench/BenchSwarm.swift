import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// What `evtorrent bench` does.
public enum BenchMode: String, Sendable, CaseIterable {
    /// Each peer fetches the whole torrent (or until the duration ends).
    case download
    /// Open connections, handshake, say interested, hold them.
    case idle
    /// Connect, fetch a few blocks, disconnect, repeat.
    case churn
}

/// Settings of a bench run.
public struct BenchOptions: Sendable {
    public var seeder: SocketAddress
    public var peers = 50
    public var mode = BenchMode.download
    /// Requests in flight per peer.
    public var queue = 64
    /// Stop after this long (download: whoever has not finished stops; idle/churn: required).
    public var duration: Duration?
    /// Check every piece's SHA-1.
    public var verify = false
    /// Set the extension-protocol and fast-extension bits in the handshake.
    public var extensions = true
    /// Blocks fetched per connection in churn mode.
    public var churnBlocks = 16
    /// Churn mode: how long a peer waits before connecting again.
    public var churnPause: Duration = .zero
    /// Connect with MSE/PE and RC4 (as peers that require encryption do); payload is then read
    /// and deciphered rather than dropped in the kernel.
    public var encrypted = false

    /// Options against `seeder`.
    public init(seeder: SocketAddress) { self.seeder = seeder }
}

/// Runs N local leechers against one seeder, each from its own loopback address (127.1.x.y), so
/// seeders that limit connections per IP still accept them all.
public final class BenchSwarm {
    let loop: EventLoop
    /// The torrents; peer i fetches torrent i mod their count (peers spread evenly).
    let torrents: [Metainfo]
    public let options: BenchOptions
    private let pool: WorkerPool
    private var peers: [BenchPeer] = []
    private var churnCounter = 0
    private let started: ContinuousClock.Instant
    private var secondBytes: Int64 = 0
    private var peerIDSalt = UInt32.random(in: 0...UInt32.max)
    private var stopping = false
    /// Totals, updated as the run goes.
    public private(set) var totalBytes: Int64 = 0
    public internal(set) var accepted = 0
    public internal(set) var chokes = 0
    public private(set) var hashFailures = 0
    public private(set) var piecesVerified = 0
    public private(set) var connectionsMade = 0
    public private(set) var droppedBySeeder = 0
    /// Called once when every peer has finished (download mode) or dropped.
    public var allFinished: (() -> Void)?

    /// A swarm for `metainfo`; verification hashes on `pool`.
    public convenience init(loop: EventLoop, metainfo: Metainfo, options: BenchOptions, pool: WorkerPool) {
        self.init(loop: loop, torrents: [metainfo], options: options, pool: pool)
    }

    /// A swarm over several torrents the seeder serves, peers spread evenly among them.
    public init(loop: EventLoop, torrents: [Metainfo], options: BenchOptions, pool: WorkerPool) {
        precondition(!torrents.isEmpty)
        self.loop = loop
        self.torrents = torrents
        self.options = options
        self.pool = pool
        started = loop.now
    }

    /// The peer's loopback source address: 127.1.0.1, 127.1.0.2, ... (never the seeder's 127.0.0.1).
    static func sourceAddress(_ index: Int) -> SocketAddress {
        SocketAddress(ip: [127, UInt8(1 + index / 62_500), UInt8(index / 250 % 250), UInt8(1 + index % 250)], port: 0)!
    }

    func peerID(_ index: Int) -> [UInt8] {
        Array("-EB0100-".utf8) + withUnsafeBytes(of: UInt32(index).bigEndian, Array.init)
            + withUnsafeBytes(of: peerIDSalt, Array.init) + [0x42, 0x42, 0x42, 0x42]
    }

    /// The torrent peer `index` fetches.
    func metainfo(of index: Int) -> Metainfo { torrents[index % torrents.count] }

    /// Every block of the torrent, starting at a different piece for each peer to spread the load.
    private func order(for index: Int) -> BlockOrder {
        let info = metainfo(of: index).info
        return BlockOrder(layout: info.layout, start: info.pieceCount == 0 ? 0 : (index * 7919) % info.pieceCount)
    }

    /// Opens every peer's connection.
    public func start() {
        for index in 0..<options.peers { open(index) }
    }

    private func open(_ index: Int) {
        let mode: BenchPeer.Mode
        switch options.mode {
        case .download: mode = .download
        case .idle: mode = .idle
        case .churn: mode = .churn(blocks: options.churnBlocks)
        }
        let peer = BenchPeer(swarm: self, index: index, mode: mode, order: order(for: index))
        if peers.count <= index { peers.append(peer) } else { peers[index] = peer }
        connectionsMade += 1
        loop.connect(to: options.seeder, from: Self.sourceAddress(index), timeout: .seconds(20), handler: peer)
    }

    func received(_ bytes: Int) {
        totalBytes += Int64(bytes)
        secondBytes += Int64(bytes)
    }

    func peerFinished(_ peer: BenchPeer) { checkDone() }

    func peerClosed(_ peer: BenchPeer) {
        if case .churn = options.mode {
            churnCounter += 1
            if !stopping, peer.blocksThisConnection < options.churnBlocks { churnCutShort += 1 }
            guard !stopping, options.duration.map({ loop.now - started < $0 }) ?? true else { return }
            if options.churnPause > .zero {
                loop.schedule(after: options.churnPause) { [weak self] in
                    guard let self, !self.stopping else { return }
                    self.open(peer.index)
                }
            } else {
                open(peer.index)
            }
            return
        }
        if !peer.isDone && !stopping { droppedBySeeder += 1 }
        checkDone()
    }

    private func checkDone() {
        guard options.mode == .download else { return }
        if peers.allSatisfy({ $0.isDone || !$0.isOpen }) { allFinished?() }
    }

    func verify(piece: PieceIndex, data: [UInt8], of metainfo: Metainfo) {
        let expected = Array(metainfo.info.hash(of: piece))
        pendingVerifications += 1
        loop.offload(to: pool, { Digest.hash(.sha1, data) == expected }) { [weak self] ok in
            guard let self else { return }
            self.pendingVerifications -= 1
            if ok { self.piecesVerified += 1 } else { self.hashFailures += 1 }
        }
    }

    /// Piece hashes still running on the pool.
    public private(set) var pendingVerifications = 0

    /// Bytes received since the last call (for the per-second line).
    public func takeSecondBytes() -> Int64 {
        defer { secondBytes = 0 }
        return secondBytes
    }

    /// Connections open now.
    public var openCount: Int { peers.filter(\.isOpen).count }
    /// Peers that fetched everything.
    public var finishedCount: Int { peers.filter(\.isDone).count }
    /// Connections opened and closed again in churn mode.
    public var churnCycles: Int { churnCounter }
    /// Churn connections closed (by the seeder or a failure) before their blocks came.
    public private(set) var churnCutShort = 0
    /// The longest a churn connection took from connecting to its last block.
    public private(set) var churnLongest: Duration = .zero

    func churnCycleDone(took: Duration) { churnLongest = max(churnLongest, took) }

    /// Churn connections open now that have waited longer than `limit` for their blocks.
    public func churnStalled(longerThan limit: Duration) -> Int {
        let now = loop.now
        return peers.count { ($0.churnWait(now: now) ?? .zero) > limit }
    }

    /// Payload bytes each peer received so far (a baseline for `perPeerRates(since:)`).
    public var peerBytes: [Int64] { peers.map(\.bytes) }

    /// Per-peer payload rates over a measurement window of `window` that began when the peers
    /// had received `baseline` bytes.
    public func perPeerRates(since baseline: [Int64], window: Duration) -> [Double] {
        let seconds = window.inSeconds
        return peers.enumerated().map { index, peer in
            let before = index < baseline.count ? baseline[index] : 0
            return seconds > 0 ? Double(peer.bytes - before) / seconds : 0
        }
    }

    /// Per-peer payload rates in bytes per second over `elapsed` (or each peer's own finish time).
    public func perPeerRates(elapsed: Duration) -> [Double] {
        peers.map { peer in
            let time = peer.finished ?? elapsed
            let seconds = time.inSeconds
            return seconds > 0 ? Double(peer.bytes) / seconds : 0
        }
    }

    /// Time to first byte of each peer that got one.
    public var timesToFirstByte: [Duration] { peers.compactMap(\.firstByte) }

    /// Closes every connection.
    public func stop() {
        stopping = true
        loop.closeAllConnections()
    }
}

@available(*, unavailable)
extension BenchSwarm: Sendable {}
