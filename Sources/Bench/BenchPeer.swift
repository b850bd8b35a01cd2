import Client
import Reactor
import TorrentCore

/// One leecher of `evtorrent bench`: handshake, interested, pipelined requests (forgotten on
/// choke, sent again on unchoke), counting payload. Piece messages are consumed straight from the
/// input buffer; with verification each piece is assembled and hashed on the pool.
final class BenchPeer: ConnectionHandler {
    enum Mode { case download, idle, churn(blocks: Int) }

    private unowned let swarm: BenchSwarm
    let index: Int
    private let mode: Mode
    private var connection: (any Connection)?
    private var handshakeDone = false
    private var choked = true
    private var wanted: BlockOrder
    private var outstanding: [BlockRequest] = []
    private var pieceBuffers: [Int: [UInt8]] = [:]
    private var pieceReceived: [Int: Int] = [:]
    private var small = ByteQueue()
    private let decoder = PeerMessageDecoder(maxMessageLength: 1 << 20)
    private(set) var bytes: Int64 = 0
    private(set) var firstByte: Duration?
    private(set) var finished: Duration?
    private(set) var closeReason: CloseReason?
    private let started: ContinuousClock.Instant
    private(set) var blocksThisConnection = 0
    private let metainfo: Metainfo
    /// The MSE handshake under way, with encryption.
    private var exchange: MSEHandshake?
    /// Bytes deciphered with the MSE handshake's end and not yet consumed (they came before the
    /// transform took over the input).
    private var leftover: [UInt8] = []

    init(swarm: BenchSwarm, index: Int, mode: Mode, order: BlockOrder) {
        self.swarm = swarm
        self.index = index
        self.mode = mode
        wanted = order
        started = swarm.loop.now
        metainfo = swarm.metainfo(of: index)
    }

    var isDone: Bool { finished != nil }
    var isOpen: Bool { connection != nil && closeReason == nil }

    func connectionMade(_ connection: any Connection) {
        self.connection = connection
        swarm.accepted += 1
        let handshake = Handshake(infoHash: metainfo.infoHash, peerID: swarm.peerID(index), extensions: swarm.options.extensions, fast: swarm.options.extensions)
        // Every mode says interested; idle peers then just hold the connection.
        let opening = handshake.encoded() + PeerMessage.interested.encoded()
        guard swarm.options.encrypted else { return connection.write(opening) }
        let crypto = MSEHandshake.Crypto.fresh()
        // The BitTorrent handshake alone rides in the initial payload (as clients send it);
        // Interested follows under the cipher.
        let exchange = MSEHandshake(initiatorFor: metainfo.infoHash, provide: .rc4, initialPayload: handshake.encoded(), crypto: crypto)
        self.exchange = exchange
        connection.write(exchange.opening())
    }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {
        if exchange != nil {
            let outcome = exchange!.received(input.readAll()) { connection.write($0) }
            switch outcome {
            case .pending: return
            case .failed: return connection.close()
            case .done(let result):
                exchange = nil
                var decryptor = result.decryptor
                leftover = decryptor.applied(result.rest)
                connection.startTransform(RC4Transform(encryptor: result.encryptor, decryptor: decryptor))
                connection.write(PeerMessage.interested.encoded())
            }
        }
        guard leftover.isEmpty else {
            var joined = InputBuffer(bytes: leftover + input.readAll())
            consume(&joined, connection)
            leftover = joined.readAll()
            return
        }
        consume(&input, connection)
    }

    private func consume(_ input: inout InputBuffer, _ connection: any Connection) {
        if !handshakeDone {
            guard let head = input.peek(Handshake.length) else { return }
            var queue = ByteQueue()
            queue.append(head)
            guard (try? Handshake.decode(from: &queue)) != nil else {
                connection.close()
                return
            }
            input.drain(Handshake.length)
            handshakeDone = true
        }
        while let length = input.peekUInt32() {
            if length >= 9, let header = input.peek(13), header[4] == PeerMessage.pieceID {
                let request = request(header, length: Int(length))
                if swarm.options.verify {
                    guard input.count >= 4 + Int(length) else { break }
                    input.drain(13)
                    collect(request, input.read(request.length)!)
                } else if swarm.options.encrypted {
                    // Under RC4 every byte is deciphered in the input buffer: read, never dropped unseen.
                    guard input.count >= 4 + Int(length) else { break }
                    input.drain(4 + Int(length))
                } else {
                    // Counted from the header; the payload is dropped in the kernel, uncopied.
                    input.drain(13)
                    let buffered = min(request.length, input.count)
                    input.drain(buffered)
                    connection.discardInput(request.length - buffered)
                }
                receivedPiece(request)
                if !isOpen { return }
                continue
            }
            guard input.count >= 4 + Int(length) else { break }
            small.append(input.read(4 + Int(length))!)
            guard let message = try? decoder.next(from: &small) else {
                connection.close()
                return
            }
            handle(message)
        }
        requestMore()
    }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) {
        self.connection = nil
        closeReason = reason
        swarm.peerClosed(self)
    }

    private func handle(_ message: PeerMessage) {
        switch message {
        case .choke:
            choked = true
            // BEP 3: requests pending at a choke are dropped; ask again after the unchoke.
            wanted.giveBack(outstanding)
            outstanding = []
            swarm.chokes += 1
        case .unchoke:
            choked = false
        case .rejectRequest(let request):
            if let position = outstanding.firstIndex(of: request) {
                outstanding.remove(at: position)
                wanted.giveBack([request])
            }
        default:
            break
        }
    }

    private func request(_ header: [UInt8], length: Int) -> BlockRequest {
        BlockRequest(piece: PieceIndex(Int(readBigEndian(header, 5))), offset: Int(readBigEndian(header, 9)), length: length - 9)
    }

    private func receivedPiece(_ request: BlockRequest) {
        let payload = request.length
        if let position = outstanding.firstIndex(of: request) { outstanding.remove(at: position) }
        bytes += Int64(payload)
        swarm.received(payload)
        blocksThisConnection += 1
        if firstByte == nil { firstByte = swarm.loop.now - started }
        if wanted.isEmpty && outstanding.isEmpty && finished == nil {
            finished = swarm.loop.now - started
            swarm.peerFinished(self)
        }
        if case .churn(let blocks) = mode, blocksThisConnection >= blocks {
            swarm.churnCycleDone(took: swarm.loop.now - started)
            connection?.close()
        }
    }

    /// How long this connection has been waiting for its churn blocks, if it still is.
    func churnWait(now: ContinuousClock.Instant) -> Duration? {
        guard case .churn(let blocks) = mode, blocksThisConnection < blocks, closeReason == nil else { return nil }
        return now - started
    }

    private func collect(_ request: BlockRequest, _ data: [UInt8]) {
        let piece = request.piece.value
        let length = metainfo.info.layout.length(of: request.piece)
        guard request.offset + data.count <= length else { return }
        // Written in place in the dictionary's storage: no copy of the piece per block.
        pieceBuffers[piece, default: [UInt8](repeating: 0, count: length)]
            .replaceSubrange(request.offset..<request.offset + data.count, with: data)
        pieceReceived[piece, default: 0] += data.count
        if pieceReceived[piece]! >= length, let buffer = pieceBuffers.removeValue(forKey: piece) {
            pieceReceived[piece] = nil
            swarm.verify(piece: request.piece, data: buffer, of: metainfo)
        }
    }

    /// Keeps `queue` requests in flight while unchoked.
    func requestMore() {
        guard let connection, handshakeDone, !choked else { return }
        if case .idle = mode { return }
        var bytes: [UInt8] = []
        while outstanding.count < swarm.options.queue, let next = wanted.next() {
            PeerMessage.request(next).encode(into: &bytes)
            outstanding.append(next)
        }
        if !bytes.isEmpty { connection.write(bytes) }
    }

    private func readBigEndian(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
}

@available(*, unavailable)
extension BenchPeer: Sendable {}
