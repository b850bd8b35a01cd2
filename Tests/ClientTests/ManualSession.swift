import Reactor
import ReactorTesting
import TorrentCore

@testable import Client

/// A Session on virtual time (NIO's EmbeddedEventLoop): `ManualLoop` for timers, an
/// `InlineOffloader` for pool work, a `FakeConnector` for outgoing connections, and peers as
/// `FakeConnection`s the test feeds and reads. No sockets, no sleeping.
final class ManualSession {
    let loop = ManualLoop()
    let offloader: any Offloader
    let connector = FakeConnector()
    let session: Session
    let logLines = LogLines()
    private var nextPort: UInt16 = 40_000

    init(offloader: ((ManualLoop) -> any Offloader)? = nil, _ configure: (inout SessionOptions) -> Void = { _ in }) {
        self.offloader = offloader?(loop) ?? InlineOffloader(loop: loop)
        var options = SessionOptions()
        options.listen = SocketAddress(host: "127.0.0.1", port: 6881)!
        // The tests play plaintext peers unless they set a policy themselves.
        options.encryption = .tolerated
        // Many test peers come from one host; the per-address cap has a test of its own.
        options.maxPeersPerAddress = 10_000
        configure(&options)
        let lines = logLines
        session = Session(
            environment: SessionEnvironment(scheduler: loop, offloader: self.offloader, connector: connector), options: options,
            log: Log(minimum: .debug) { lines.append($0) })
    }

    /// A peer connecting in from `host`, accepted (or refused: nil) as the listener would.
    func incoming(from host: String = "10.0.0.1") -> FakeConnection? {
        nextPort += 1
        let connection = FakeConnection(remote: SocketAddress(host: host, port: nextPort)!)
        guard let handler = session.accept(connection) else { return nil }
        connection.attach(handler)
        connection.makeConnection()
        return connection
    }

    /// Hands every finished pool job back (hash results, writes).
    func settle() {
        for _ in 0..<100 where loop.pendingCount > 0 { loop.runPending() }
    }
}

/// The torrent of the file or directory at `path`, in 16 KiB pieces (made with two hashing threads).
func makeTorrent(of path: String, pieceLength: Int = 16_384) throws -> Metainfo {
    var create = CreateOptions()
    create.pieceLength = pieceLength
    let bytes = try TorrentCreator.create(try ContentScan(path: path), options: create, threads: 2)
    return try MetainfoLoader.parse(bytes, path: path)
}

/// A peer id for a test peer: `-TT0001-` and `n` repeated.
func testPeerID(_ n: UInt8) -> [UInt8] { Array("-TT0001-".utf8) + [UInt8](repeating: n, count: 12) }

/// Decodes everything `connection` wrote since the last call: the handshake (if `handshake`),
/// then messages.
func readMessages(_ connection: FakeConnection, pieceCount: Int, handshake: Bool = false) -> (Handshake?, [PeerMessage]) {
    var queue = ByteQueue(connection.takeWritten())
    var first: Handshake?
    if handshake { first = try? Handshake.decode(from: &queue) }
    let decoder = PeerMessageDecoder(pieceCount: pieceCount)
    var messages: [PeerMessage] = []
    while let message = try? decoder.next(from: &queue) { messages.append(message) }
    return (first, messages)
}

/// An `Offloader` that holds each job until the test releases it: a pool as slow as the test
/// wants, to watch what happens between hand-backs.
final class SteppedOffloader: Offloader {
    private var jobs: [() -> Void] = []
    /// Jobs waiting.
    var waiting: Int { jobs.count }

    func offload<T: Sendable>(to pool: WorkerPool, _ work: @escaping @Sendable () -> T, completion: @escaping (T) -> Void) {
        jobs.append { completion(work()) }
    }

    /// Runs the oldest job and hands its result back.
    func step() {
        guard !jobs.isEmpty else { return }
        jobs.removeFirst()()
    }
}
