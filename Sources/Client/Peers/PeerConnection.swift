import Reactor
import TorrentCore

/// One peer: a `ConnectionHandler` that feeds the peer's bytes to TorrentCore's `PeerSession`
/// and carries out the actions it returns; serves requested blocks through the payload path.
final class PeerConnection: ConnectionHandler {
    /// Output above this waits for `outputFlushed`; refilling starts at the low watermark.
    static let outputHighWatermark = 1 << 20
    static let outputLowWatermark = 256 << 10
    /// An encrypted peer's blocks are ciphered copies, not references to the page cache: its
    /// queue is kept short so they are still in the CPU's cache when the kernel sends them.
    static let encryptedHighWatermark = 128 << 10
    static let encryptedLowWatermark = 32 << 10
    /// Messages up to this long are decoded in the input buffer rather than copied out first.
    static let smallMessageLength = 64
    /// A run of requests is parsed from at most this many bytes at a time (a window of 250).
    static let requestRunBytes = 250 * 17

    /// The session outlives its connections (it closes them all before it goes): a plain pointer.
    /// `unowned` checked it on every use, and the session has a side table (weak references to
    /// it), so each check was two atomic operations on the slow path: 5 % of a busy seeder.
    private unowned(unsafe) let session: any PeerHost
    private(set) weak var torrent: Torrent?
    private(set) var connection: (any Connection)?
    /// The protocol state once the handshake is in; nil before it and after the close. A stored
    /// optional rather than an enum payload, so it is mutated in place: taking a copy per message
    /// also copied its request queue, twice per block served.
    private var peer: PeerSession?
    /// Whether `peer` is set. Asking `peer != nil` copied the whole session (a retain per
    /// reference in it) across the module boundary: eight copies per read of the socket.
    private var inSession = false
    private var closed = false
    /// Output above this waits for `outputFlushed`.
    private var highWatermark = PeerConnection.outputHighWatermark
    private var queue = ByteQueue()
    private var decoder = PeerMessageDecoder(maxMessageLength: 16 << 10)
    /// A block being read into the page cache for this peer, served as soon as it is there.
    private var warming: BlockRequest?
    private var warmed: BlockRequest?
    /// The reused 13-byte header of the block being queued.
    private var pieceHeader: [UInt8] = []
    private var handshakeTimer: TimerHandle?
    /// Payload bytes sent to this peer since the last rechoke.
    private var uploadedSinceRechoke: Int64 = 0
    /// The swarm logic's name for this connection.
    let key: PeerKey
    let remote: SocketAddress
    /// The peer's id, once its handshake arrived.
    private(set) var peerID: [UInt8]?

    /// For a connection we opened: the torrent we asked for (their handshake must match).
    let outgoingTorrent: Torrent?
    /// Whether the handshake went through and it joined a torrent.
    private(set) var joined = false
    /// Why we dropped it, if we did.
    private(set) var dropError: PeerError?
    /// The MSE/PE handshake under way (before the BitTorrent handshake).
    /// Out of line: 176 bytes every connection carried, used only during the MSE handshake.
    private var encryption: OutOfLine<MSEHandshake>?
    /// Whether the first bytes were looked at (an incoming connection: plaintext or MSE).
    private var openingSeen = false
    /// Whether we open this connection with MSE (set by the session before it connects).
    var encryptsOut = false
    /// Whether an MSE handshake was begun and did not finish (a fallback may follow).
    private(set) var encryptionFailed = false
    /// Whether the stream is RC4 (after an MSE handshake that chose it).
    private(set) var isEncrypted = false
    /// The torrent an incoming MSE handshake named: the BitTorrent handshake must name it too.
    private var encryptedFor: InfoHash?
    /// Whether a magnet's fetch opened it and handed it over past the handshake.
    private(set) var handedOver = false
    /// What peer exchange told this peer, and when it last told us: made when peer exchange
    /// with it first happens, so a peer that never speaks ut_pex pays 8 bytes, not 49.
    var pex: PexState {
        get { pexBox?.value ?? PexState() }
        _modify {
            if pexBox == nil { pexBox = OutOfLine(PexState()) }
            yield &pexBox!.value
        }
    }
    private var pexBox: OutOfLine<PexState>?
    /// ut_metadata requests it made of us (a flood is dropped).
    var metadataRequests = 0

    init(session: any PeerHost, key: PeerKey, connection: any Connection, outgoing torrent: Torrent? = nil) {
        self.session = session
        self.key = key
        self.connection = connection
        remote = connection.remoteAddress
        outgoingTorrent = torrent
    }

    /// Lets the session decide (`body` mutates it in place and returns actions), then carries the
    /// actions out.
    private func update(_ body: (inout PeerSession) -> [PeerAction]) {
        guard inSession else { return }
        perform(body(&peer!))
    }

    /// Reads a fact of the session in place (`peer?.x` would copy the whole session first).
    private func read<T>(_ fact: (inout PeerSession) -> T) -> T? {
        guard inSession else { return nil }
        return fact(&peer!)
    }

    /// Whether we told the peer we want its data.
    var amInterested: Bool { read { $0.amInterested } ?? false }
    /// Whether the peer refuses our requests.
    var peerChoking: Bool { read { $0.peerChoking } ?? true }
    /// Whether the peer speaks the BEP 10 extension `name` (its handshake named it).
    func speaks(_ name: String) -> Bool { read { $0.extensions.outgoingID(for: name) != nil } ?? false }
    /// Where the peer accepts connections: the address we dialled, or its address with the port
    /// its extension handshake gave (nil: unknown).
    var pexAddress: SocketAddress? {
        if outgoingTorrent != nil { return remote }
        guard let port = read({ $0.peerExtensions?.listenPort }) ?? nil, port > 0, port <= 65535 else { return nil }
        return SocketAddress(ip: remote.ip, port: UInt16(port))
    }
    /// What the download needs of this peer, once past the handshake.
    var downloadView: PeerDownloadView? { read { $0.downloadView } }

    /// Whether serving this peer waits for a block to be read from disk.
    var isWaitingOnDisk: Bool { warming != nil }

    /// The pieces the peer has (none before its handshake).
    var peerPieces: Bitfield? { read { $0.peerPieces } }

    /// The share of the torrent the peer has.
    var progress: Double {
        read { Double($0.peerPieces.setCount) / Double(max($0.peerPieces.count, 1)) } ?? 0
    }

    /// Payload bytes sent since the last call (the choker's upload rate), reset.
    func takeUploadedSinceRechoke() -> Int64 {
        defer { uploadedSinceRechoke = 0 }
        return uploadedSinceRechoke
    }

    func connectionMade(_ connection: any Connection) {
        connection.setOutputLowWatermark(Self.outputLowWatermark)
        // We opened it: we speak first (with MSE, our handshake rides in its initial payload).
        if let outgoingTorrent {
            let handshake = Handshake(infoHash: outgoingTorrent.metainfo.infoHash, peerID: session.peerID).encoded()
            if encryptsOut {
                let exchange = session.encryptionInitiator(for: outgoingTorrent.metainfo.infoHash, handshake: handshake)
                encryption = OutOfLine(exchange)
                openingSeen = true
                let opening = exchange.opening()
                session.countWire(uploaded: opening.count, downloaded: 0)
                connection.write(opening)
            } else {
                session.countWire(uploaded: handshake.count, downloaded: 0)
                connection.write(handshake)
            }
        }
        handshakeTimer = session.loop.schedule(after: session.options.handshakeTimeout) { [weak self] in
            self?.drop(.handshakeTimeout)
        }
    }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {
        let arrived = input.count
        defer { session.countWire(uploaded: 0, downloaded: arrived - input.count) }
        // One clock reading for every message of this read.
        let now = session.now
        // Framing errors land here; a protocol error in a message is handled (and the peer
        // dropped) by `handle`.
        do throws(WireError) {
            if !inSession {
                guard !closed, let opened = negotiate(&input) else { return }
                queue.append(opened)
                guard let handshake = try Handshake.decode(from: &queue) else { return }
                guard accept(handshake) else { return }
                // Messages that came with the handshake.
                while inSession, let message = try decoder.next(from: &queue) { handle(message, now: now) }
                // From here on messages come straight from the input buffer: let the queue's
                // storage go (an idle peer should cost little).
                if queue.count == 0 { queue = ByteQueue() }
            }
            // A message split across reads stays partly in `queue`: complete it from the input.
            if queue.count > 0, inSession {
                queue.append(input.read(min(decoder.bytesMissing(in: queue), input.count)) ?? [])
                while inSession, let message = try decoder.next(from: &queue) { handle(message, now: now) }
                if queue.count == 0 { queue = ByteQueue() }
            }
            // Then whole messages straight from the input buffer: small ones (requests, haves)
            // decoded in place, others with one copy; a partial one waits there for the rest.
            while queue.count == 0, inSession, let length = input.peekUInt32().map(Int.init) {
                // A run of requests, parsed in place and handed to the session one by one
                // without the message enum (a third of a seeder's instructions per block went
                // into decoding requests one message at a time).
                if length == 13,
                    input.consumeFront(upTo: Self.requestRunBytes, { bytes in
                        PeerMessageDecoder.requests(in: bytes) { takeRequest($0, now: now) }
                    }) > 0
                {
                    continue
                }
                try decoder.check(length: length)
                guard input.count >= 4 + length else { break }
                let message: PeerMessage?
                if length <= Self.smallMessageLength {
                    message = try input.consume(4 + length) { (frame) throws(WireError) in try decoder.message(frame: frame) }
                } else {
                    var one = ByteQueue(input.read(4 + length)!)
                    message = try decoder.next(from: &one)
                }
                guard let message else { break }
                handle(message, now: now)
            }
            if let torrent, torrent.isDownloading, inSession { torrent.fillRequests(self) }
        } catch {
            drop(.wire(error))
            return
        }
        pump()
    }

    /// Takes one message: the session decides, the actions are carried out. A protocol error
    /// closes the connection (the caller stops at once: `peer` is nil).
    private func handle(_ message: PeerMessage, now: ContinuousClock.Instant) {
        guard inSession else { return }
        logReceived(message)
        let wasInterested = read { $0.peerInterested } ?? false
        let actions: [PeerAction]
        do { actions = try peer!.received(message, now: now) } catch {
            drop(error)
            return
        }
        let nowInterested = read { $0.peerInterested } ?? false
        perform(actions)
        if nowInterested != wasInterested { torrent?.interestChanged(self, interested: nowInterested) }
    }

    /// Each message a peer sends, at debug level.
    private func logReceived(_ message: @autoclosure () -> PeerMessage) {
        guard session.log.enabled(.debug) else { return }
        session.log.debug("peer_message", [("peer", remote), ("message", "\(message())".prefix(80))])
    }

    /// Takes one request of a run: as `handle(.request(request))`, which it must match. False
    /// to stop the run (the peer was dropped).
    private func takeRequest(_ request: BlockRequest, now: ContinuousClock.Instant) -> Bool {
        guard inSession else { return false }
        logReceived(.request(request))
        let action: PeerAction?
        do { action = try peer!.receivedRequest(request, now: now) } catch {
            drop(error)
            return false
        }
        if let action { perform([action]) }
        return inSession
    }

    func outputFlushed(_ connection: any Connection) { pump() }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) {
        handshakeTimer?.cancel()
        // Closed in the middle of our encrypted opening: the peer may not speak MSE.
        if encryption != nil && outgoingTorrent != nil { encryptionFailed = true }
        leaveTorrent()
        self.connection = nil
        session.connectionClosed(self, reason: reason)
    }

    /// Stops taking part: the peer's pieces stop counting and its outstanding requests go back
    /// to the picker. Idempotent.
    private func leaveTorrent() {
        closed = true
        guard inSession, var ended = peer else { return }
        peer = nil
        inSession = false
        torrent?.remove(self, pieces: ended.peerPieces, released: ended.takeOutstanding())
    }

    /// Applies the choker's decision.
    func setChoking(_ choking: Bool) {
        update { $0.setChoking(choking) }
        if !choking { pump() }
    }

    // MARK: - Downloading

    /// Tells the peer whether we want its data.
    func setInterested(_ interested: Bool) {
        let now = session.now
        update { $0.setInterested(interested, now: now) }
    }

    /// Sends requests the picker chose.
    func sendRequests(_ requests: [BlockRequest]) {
        let now = session.now
        update { $0.sendRequests(requests, now: now) }
    }

    /// Sends a BEP 10 message for extension `name`, if the peer speaks it.
    func sendExtension(_ name: String, payload: [UInt8]) { update { $0.sendExtension(name, payload: payload) } }

    /// Withdraws a request another peer answered first.
    func cancel(_ request: BlockRequest) { update { $0.cancel(request) } }

    /// Announces a piece we just verified.
    func weGotPiece(_ piece: PieceIndex) { update { $0.weGotPiece(piece) } }

    /// The download is over: no more interest; as a seed, tell the peer we only upload.
    func becameSeedOrDone(isSeed: Bool) {
        let now = session.now
        update { $0.downloadEnded(weAreSeed: isSeed, now: now) }
    }

    /// Periodic upkeep (keep-alive, idle timeout).
    func upkeep() {
        let now = session.now
        update { $0.timerFired(now: now) }
    }

    /// Closes with a logged reason.
    func drop(_ error: PeerError) {
        guard let connection else { return }
        session.log.debug("peer_dropped", [("peer", remote), ("reason", error)])
        dropError = error
        session.peerDropped(error)
        leaveTorrent()
        connection.close()
    }

    /// Joins the torrent with a connection a magnet's fetch handed over: the handshakes are done,
    /// what the peer said meanwhile is replayed, then the bytes not yet framed are read.
    func joinHandedOver(_ handover: Handover) {
        handedOver = true
        queue = handover.rest
        guard accept(handover.handshake) else { return }
        let now = session.now
        for message in handover.kept where inSession { handle(message, now: now) }
        do throws(WireError) {
            while inSession, let message = try decoder.next(from: &queue) { handle(message, now: now) }
        } catch {
            return drop(.wire(error))
        }
        if queue.count == 0 { queue = ByteQueue() }
        if let torrent, torrent.isDownloading, inSession { torrent.fillRequests(self) }
        pump()
    }

    /// The bytes before the BitTorrent handshake: an incoming connection that does not open with
    /// it speaks MSE (a `required` session takes no other); one we opened with MSE goes through
    /// it. Returns the plaintext that follows, or nil while the MSE handshake goes on (or after
    /// it failed: the peer is dropped).
    private func negotiate(_ input: inout InputBuffer) -> [UInt8]? {
        if encryption == nil {
            guard !openingSeen else { return input.readAll() }
            var plaintext = false
            if outgoingTorrent == nil {
                // Told apart by the whole protocol string, not its first byte: an MSE opening
                // (Ya, 96 random bytes) starts with 19 once in 256 and was then refused as
                // plaintext. Until 20 bytes are in, a prefix of it waits.
                let seen = input.peek(min(input.count, Handshake.protocolName.count)) ?? []
                if seen.count < Handshake.protocolName.count && seen.elementsEqual(Handshake.protocolName.prefix(seen.count)) { return nil }
                plaintext = seen.elementsEqual(Handshake.protocolName)
            }
            openingSeen = true
            if outgoingTorrent != nil || plaintext {
                guard outgoingTorrent != nil || session.options.encryption != .required else {
                    drop(.protocolViolation("plaintext handshake, and encryption is required"))
                    return nil
                }
                return input.readAll()
            }
            encryption = OutOfLine(session.encryptionReceiver())
        }
        let bytes = input.readAll()
        let outcome = encryption!.value.received(bytes) { answer in
            session.countWire(uploaded: answer.count, downloaded: 0)
            connection?.write(answer)
        }
        switch outcome {
        case .pending:
            return nil
        case .failed(let reason):
            encryption = nil
            encryptionFailed = true
            drop(.protocolViolation("encryption handshake: \(reason)"))
            return nil
        case .done(let result):
            encryption = nil
            var rest = result.rest
            if result.method == .rc4 {
                var decryptor = result.decryptor
                decryptor.apply(&rest)
                connection?.startTransform(RC4Transform(encryptor: result.encryptor, decryptor: decryptor))
                connection?.setOutputLowWatermark(Self.encryptedLowWatermark)
                highWatermark = Self.encryptedHighWatermark
                isEncrypted = true
                session.peerEncrypted()
            }
            if outgoingTorrent == nil { encryptedFor = result.infoHash }
            return result.initialPayload + rest
        }
    }

    private func accept(_ handshake: Handshake) -> Bool {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        if let encryptedFor, encryptedFor != handshake.infoHash {
            drop(.protocolViolation("the encrypted handshake named another torrent"))
            return false
        }
        guard let torrent = session.torrent(for: handshake.infoHash),
            outgoingTorrent == nil || outgoingTorrent === torrent
        else {
            // A magnet being fetched takes the connection over.
            if outgoingTorrent == nil, !handedOver, let connection, session.adoptForMetadata(self, connection, handshake: handshake, rest: queue) {
                closed = true
                self.connection = nil
                queue = ByteQueue()
                return false
            }
            drop(.unknownTorrent(handshake.infoHash))
            return false
        }
        guard torrent.phase == .running else {
            // Checking or stopped: no peers until it runs.
            connection?.close()
            return false
        }
        guard !torrent.isBanned(remote) else {
            drop(.badData)
            return false
        }
        guard handshake.peerID != session.peerID else {
            drop(.connectedToSelf)
            return false
        }
        guard !torrent.isConnected(peerID: handshake.peerID) else {
            drop(.duplicatePeer)
            return false
        }
        peerID = handshake.peerID
        guard torrent.peerCount < torrent.peerLimit else {
            session.logLimit("per-torrent peer limit \(torrent.peerLimit) reached for \(torrent.metainfo.info.name)")
            connection?.close()
            return false
        }
        if outgoingTorrent == nil && !handedOver {
            let reply = Handshake(infoHash: handshake.infoHash, peerID: session.peerID).encoded()
            session.countWire(uploaded: reply.count, downloaded: 0)
            connection?.write(reply)
        }
        var started = PeerSession(
            shared: torrent.sharedPeerConfiguration, ours: torrent.have, peerSupportsFast: handshake.supportsFast,
            peerSupportsExtensions: handshake.supportsExtensions, now: session.now)
        decoder = PeerMessageDecoder(pieceCount: torrent.metainfo.info.pieceCount)
        // A fetch that had the fast extension said HaveNone already.
        let actions = started.start(now: session.now, saidHaveNone: handedOver && handshake.supportsFast)
        peer = started
        inSession = true
        self.torrent = torrent
        joined = true
        if outgoingTorrent != nil { session.outgoingJoined(self) }
        torrent.add(self)
        perform(actions)
        return true
    }

    private func perform(_ actions: [PeerAction]) {
        for action in actions {
            switch action {
            case .send(let message):
                let bytes = message.encoded()
                session.countWire(uploaded: bytes.count, downloaded: 0)
                connection?.write(bytes)
            case .close(let error): drop(error)
            case .countPiece(let piece): torrent?.peerGained(self, piece: piece)
            case .countPieces(let pieces): torrent?.peerGained(self, pieces: pieces)
            case .storeBlock(let request, let data): torrent?.blockArrived(from: self, request, data)
            case .releaseRequests(let requests): torrent?.requestsLost(requests)
            case .extensionMessage(let name, let payload):
                if let handler = session.extensionHandlers[name], let torrent { handler(torrent, self, payload) }
            }
        }
    }

    /// Serves queued requests while the output has room, in request order. A block whose bytes
    /// are not in the page cache is read on the disk pool; serving waits for it, the loop does not.
    private func pump() {
        var queuedAny = false
        defer { if queuedAny && inSession { peer!.sentSomething(now: session.now) } }  // one clock read per turn
        // Bound once per turn, not per block: the torrent is a weak reference and both have side
        // tables, so every binding was a slow-path retain and release.
        guard warming == nil, let connection, let torrent else { return }
        let storage = torrent.storage
        // Blocks go out in batches (one writev of headers and mapped blocks, DESIGN §2): while
        // the socket takes a whole batch the output stays empty and the next batch follows.
        // The counters hear once per turn: payload bytes, and wire bytes (headers included).
        var payload = 0, wire = 0
        defer {
            if payload > 0 {
                session.countWire(uploaded: wire, downloaded: 0)
                uploadedSinceRechoke += Int64(payload)
                torrent.uploaded(payload)
            }
        }
        var ranOut = false
        repeat {
            connection.beginBatch()
            defer { connection.endBatch() }
            while connection.pendingOutputBytes < highWatermark {
                guard let request = warmed.take() ?? (inSession ? peer!.nextRequest() : nil) else {
                    ranOut = true
                    break
                }
                guard serve(request, from: storage, of: torrent, on: connection) else { return }
                queuedAny = true
                payload += request.length
                wire += pieceHeader.count + request.length
            }
        } while !ranOut && connection.isOpen && connection.pendingOutputBytes < highWatermark
    }

    /// Queues one block; false when serving must stop (it is being read from disk, or failed).
    @inline(__always)
    private func serve(_ request: BlockRequest, from storage: TorrentStorage, of torrent: Torrent, on connection: any Connection) -> Bool {
        PeerMessage.pieceHeader(for: request, into: &pieceHeader)
        switch storage.queueBlock(request, header: pieceHeader, on: connection) {
        case .queued:
            return true
        case .cold(let block):
            warm(block, for: request, of: torrent)
            return false
        case .failed(let error):
            session.log.warn("read_failed", [("torrent", torrent.metainfo.info.name), ("error", error)])
            connection.close()
            return false
        }
    }

    /// Reads a block not in the page cache on the disk pool, then serves on.
    @inline(never)
    private func warm(_ block: FileBlock, for request: BlockRequest, of torrent: Torrent) {
        warming = request
        torrent.storage.warm(block) { [weak self] whole in
            guard let self, let request = self.warming else { return }
            self.warming = nil
            guard whole else {
                // The file shrank under us: this peer's request cannot be served.
                self.session.log.warn("read_failed", [("torrent", torrent.metainfo.info.name), ("error", "\(block.file.path) is shorter than the torrent says")])
                self.connection?.close()
                return
            }
            self.warmed = request
            self.pump()
        }
    }
}

@available(*, unavailable)
extension PeerConnection: Sendable {}
