/// Limits and identity for every peer session of a torrent.
public struct PeerSessionConfiguration: Equatable, Sendable {
    /// Bytes per piece.
    public var pieceLength: Int
    /// Bytes in the torrent.
    public var totalLength: Int64
    /// Requests queued per peer before rejecting (advertised as `reqq`).
    public var maxQueuedRequests = 250
    /// The largest block served (BEP 3 suggests refusing over 128 KiB).
    public var maxBlockLength = 128 << 10
    /// Drop a peer silent for this long.
    public var idleTimeout: Duration = .seconds(180)
    /// Send a keep-alive after this long without sending anything.
    public var keepAliveInterval: Duration = .seconds(90)
    /// A peer that has not sent a requested block for this long is snubbed: its requests go back
    /// to the picker for other peers to serve.
    public var snubTimeout: Duration = .seconds(60)
    /// Our listen port, told to peers in the extension handshake.
    public var listenPort: Int?
    /// Our client name in the extension handshake.
    public var clientName = "evtorrent 0.1"
    /// BEP 10 extensions offered to the peer (`ExtensionTable.supported` by default).
    public var extensionNames = ExtensionTable.supported
    /// The size of the info dictionary we serve over ut_metadata (BEP 9), advertised as
    /// `metadata_size` in the extension handshake.
    public var metadataSize: Int?

    /// A configuration for a torrent of `totalLength` bytes in pieces of `pieceLength`.
    public init(pieceLength: Int, totalLength: Int64) {
        self.pieceLength = pieceLength
        self.totalLength = totalLength
    }

    /// One configuration shared by the sessions of a torrent's peers: each session holds a
    /// pointer, not its own 130-byte copy, and starts from the same extension-id table (its
    /// dictionaries shared, copy on write) rather than building four per connection.
    public final class Shared: Sendable {
        public let value: PeerSessionConfiguration
        let extensions: ExtensionTable
        public init(_ value: PeerSessionConfiguration) {
            self.value = value
            extensions = ExtensionTable(speaking: value.extensionNames)
        }
    }

    /// The number of pieces.
    public var pieceCount: Int { FileLayout.pieceCount(totalLength: totalLength, pieceLength: pieceLength) }

    /// The length of `piece`.
    public func length(of piece: PieceIndex) -> Int {
        Int(min(Int64(pieceLength), totalLength - Int64(piece.value) * Int64(pieceLength)))
    }

    /// Whether `block` lies inside one piece of the torrent (and is not empty).
    public func contains(_ block: BlockRequest) -> Bool {
        block.piece.value >= 0 && block.piece.value < pieceCount && block.length > 0 && block.offset >= 0
            && block.offset + block.length <= length(of: block.piece)
    }
}

/// One peer's protocol state in both directions. As seen by a seeder: what it has, whether it is
/// interested, whether we choke it, and the requests it is waiting for. As seen by a downloader:
/// whether it chokes us, whether we are interested, and the blocks we asked it for. Inputs in,
/// actions out; no I/O, no clock.
public struct PeerSession: Sendable {
    private let shared: PeerSessionConfiguration.Shared
    /// Limits and identity, the same for every peer of the torrent. Lent, not copied: a copy
    /// retained and released its arrays and strings on every request a peer sent.
    public var configuration: PeerSessionConfiguration {
        _read { yield shared.value }
    }
    /// Whether both sides set the BEP 6 bit.
    public let fastExtension: Bool
    /// Whether both sides set the BEP 10 bit.
    public let extensionProtocol: Bool
    private var ours: Bitfield
    /// The peer's pieces as far as it has told us.
    public private(set) var peerPieces: Bitfield
    /// Whether the peer wants data from us.
    public private(set) var peerInterested = false
    /// Whether we refuse its requests.
    public private(set) var amChoking = true
    /// The peer's extension handshake, once received.
    public private(set) var peerExtensions: ExtensionHandshake?
    /// BEP 10 message ids both ways.
    public private(set) var extensions: ExtensionTable
    /// Whether we want data from the peer (and told it so).
    public private(set) var amInterested = false
    /// Whether the peer refuses our requests.
    public private(set) var peerChoking = true
    /// Blocks we asked the peer for and have not received.
    public private(set) var outstanding: Set<BlockRequest> = []
    /// Whether the peer sat on our requests past the snub timeout (and has not sent a block since).
    public private(set) var isSnubbed = false
    private var lastBlock: ContinuousClock.Instant
    private var queue = RequestQueue()
    private var overLimit = 0
    private var sawFirstMessage = false
    private var lastReceived: ContinuousClock.Instant
    private var lastSent: ContinuousClock.Instant

    /// A session with a peer whose handshake announced `fast`/`extensions`, when we hold `ours`.
    public init(
        configuration: PeerSessionConfiguration, ours: Bitfield, peerSupportsFast: Bool, peerSupportsExtensions: Bool,
        now: ContinuousClock.Instant
    ) {
        self.init(
            shared: PeerSessionConfiguration.Shared(configuration), ours: ours, peerSupportsFast: peerSupportsFast,
            peerSupportsExtensions: peerSupportsExtensions, now: now)
    }

    /// The same, with a configuration shared with the torrent's other sessions.
    public init(
        shared: PeerSessionConfiguration.Shared, ours: Bitfield, peerSupportsFast: Bool, peerSupportsExtensions: Bool,
        now: ContinuousClock.Instant
    ) {
        let configuration = shared.value
        precondition(ours.count == configuration.pieceCount)
        self.shared = shared
        self.ours = ours
        fastExtension = peerSupportsFast
        extensionProtocol = peerSupportsExtensions
        extensions = shared.extensions
        peerPieces = Bitfield(count: configuration.pieceCount)
        lastReceived = now
        lastSent = now
        lastBlock = now
    }

    /// Requests waiting to be served, oldest first.
    public var queuedRequests: [BlockRequest] { queue.elements }
    /// Whether the peer has every piece.
    public var peerIsSeed: Bool { peerPieces.isFull }

    /// What to send right after the handshake: our pieces (HaveAll/HaveNone with the fast
    /// extension) and the extension handshake. With `saidHaveNone` (the connection fetched a
    /// magnet's metadata first and said HaveNone then), the pieces we have go as Haves, the only
    /// way to name them after a first message.
    public mutating func start(now: ContinuousClock.Instant, saidHaveNone: Bool = false) -> [PeerAction] {
        var actions: [PeerAction] = []
        if extensionProtocol {
            var handshake = ExtensionHandshake()
            handshake.client = configuration.clientName
            handshake.requestQueueLength = configuration.maxQueuedRequests
            handshake.listenPort = configuration.listenPort
            handshake.uploadOnly = ours.isFull
            handshake.messages = extensions.handshakeMessages
            handshake.metadataSize = configuration.metadataSize
            actions.append(.send(.extended(id: 0, payload: handshake.payload())))
        }
        if saidHaveNone {
            for piece in 0..<ours.count where ours[PieceIndex(piece)] { actions.append(.send(.have(PieceIndex(piece)))) }
        } else if fastExtension && ours.isFull {
            actions.append(.send(.haveAll))
        } else if fastExtension && ours.isEmpty {
            actions.append(.send(.haveNone))
        } else if !ours.isEmpty {
            actions.append(.send(.bitfield(ours.bytes)))
        }
        lastSent = now
        return actions
    }

    /// Takes one Request: the same as `received(.request(request), now:)`, without going
    /// through the message enum (once per block a seeder serves).
    public mutating func receivedRequest(_ request: BlockRequest, now: ContinuousClock.Instant) throws(PeerError) -> PeerAction? {
        lastReceived = now
        sawFirstMessage = true
        return try gotRequest(request)
    }

    /// Takes one message from the peer. Throws if the peer broke the protocol (close it).
    public mutating func received(_ message: PeerMessage, now: ContinuousClock.Instant) throws(PeerError) -> [PeerAction] {
        lastReceived = now
        // Bitfield, HaveAll and HaveNone must come before any other core message. The extension
        // handshake, keep-alives and DHT port may precede them (aria2 sends its extension
        // handshake first), so they do not count.
        let first = !sawFirstMessage
        switch message {
        case .keepAlive, .extended, .port: break
        default: sawFirstMessage = true
        }
        switch message {
        case .keepAlive, .port, .unknown, .suggestPiece, .allowedFast:
            return []
        case .choke:
            peerChoking = true
            // Without the fast extension a choke drops every pending request; with it the peer
            // should reject them, but not all clients do, so they are released either way. A block
            // that arrives after all is still taken if it is wanted.
            return releaseOutstanding()
        case .unchoke:
            peerChoking = false
            return []
        case .piece(let request, let data):
            // Unasked blocks inside the torrent are the downloader's to judge; one outside it is
            // a broken or hostile peer (FuzzWire found the torrent was trusted to catch it).
            guard configuration.contains(request) else { throw .protocolViolation("block outside the torrent: \(request)") }
            if outstanding.remove(request) != nil {
                lastBlock = now
                isSnubbed = false
            }
            return [.storeBlock(request, data)]
        case .interested:
            peerInterested = true
            return []
        case .notInterested:
            peerInterested = false
            return rejectAll()
        case .have(let piece):
            guard piece.value >= 0 && piece.value < peerPieces.count else {
                throw .protocolViolation("have for piece \(piece) of \(peerPieces.count)")
            }
            guard !peerPieces[piece] else { return [] }
            peerPieces[piece] = true
            try checkBothSeeds()
            return [.countPiece(piece)]
        case .bitfield(let bytes):
            guard let field = Bitfield(bytes: bytes, count: configuration.pieceCount) else { throw .badBitfield }
            // BEP 3 puts the bitfield first, but aria2 sends another one later; merge it.
            var added = field
            if !first { added.subtract(peerPieces) }
            peerPieces.formUnion(field)
            try checkBothSeeds()
            return added.isEmpty ? [] : [.countPieces(added)]
        case .haveAll, .haveNone:
            guard fastExtension else { throw .protocolViolation("HaveAll/HaveNone without the fast extension") }
            guard first else { throw .protocolViolation("HaveAll/HaveNone after the first message") }
            peerPieces = Bitfield(count: configuration.pieceCount, allSet: message == .haveAll)
            try checkBothSeeds()
            return message == .haveAll ? [.countPieces(peerPieces)] : []
        case .request(let request):
            return try gotRequest(request).map { [$0] } ?? []
        case .cancel(let request):
            guard queue.remove(request) else { return [] }
            // BEP 6: every request gets a piece or a reject, cancelled ones included.
            return fastExtension ? [.send(.rejectRequest(request))] : []
        case .rejectRequest(let request):
            guard fastExtension else { throw .protocolViolation("RejectRequest without the fast extension") }
            return outstanding.remove(request) != nil ? [.releaseRequests([request])] : []
        case .extended(let id, let payload):
            guard id != 0 else {
                peerExtensions = try? ExtensionHandshake(payload: payload)
                if let peerExtensions { extensions.peerAnnounced(peerExtensions.messages) }
                if peerExtensions?.uploadOnly == true && ours.isFull { throw .bothSeeds }
                return []
            }
            // BEP 10: a message for an id we never assigned is ignored.
            guard let name = extensions.name(ofIncoming: id) else { return [] }
            return [.extensionMessage(name, payload)]
        }
    }

    /// Chokes or unchokes the peer, as the choker decided.
    public mutating func setChoking(_ choking: Bool) -> [PeerAction] {
        guard choking != amChoking else { return [] }
        amChoking = choking
        guard choking else { return [.send(.unchoke)] }
        // BEP 6: when choking, reject every pending request; without it they are dropped.
        return [.send(.choke)] + rejectAll()
    }

    /// The next request to serve, if the peer is unchoked; the caller sends the block.
    public mutating func nextRequest() -> BlockRequest? {
        guard !amChoking, !queue.isEmpty else { return nil }
        if queue.count < configuration.maxQueuedRequests / 2 { overLimit = 0 }
        return queue.popFirst()
    }

    /// Records that something was sent, for keep-alive timing.
    public mutating func sentSomething(now: ContinuousClock.Instant) { lastSent = now }

    /// Periodic upkeep: drop a silent peer, keep a quiet connection alive, and take back the
    /// requests of a peer that sits on them (snubbed).
    public mutating func timerFired(now: ContinuousClock.Instant) -> [PeerAction] {
        if now - lastReceived > configuration.idleTimeout { return [.close(.idle)] }
        var actions: [PeerAction] = []
        if !outstanding.isEmpty && now - lastBlock > configuration.snubTimeout {
            isSnubbed = true
            lastBlock = now
            let lost = takeOutstanding()
            actions = lost.map { .send(.cancel($0)) } + [.releaseRequests(lost)]
        }
        if now - lastSent >= configuration.keepAliveInterval {
            lastSent = now
            actions.append(.send(.keepAlive))
        }
        return actions
    }

    /// Records a piece we newly have; returns the Have to send (and closes if both are now seeds).
    public mutating func weGotPiece(_ piece: PieceIndex) -> [PeerAction] {
        guard !ours[piece] else { return [] }
        ours[piece] = true
        if ours.isFull && peerPieces.isFull { return [.close(.bothSeeds)] }
        return [.send(.have(piece))]
    }

    // MARK: - Downloading

    /// Says whether we want data from the peer. Losing interest drops nothing outstanding.
    public mutating func setInterested(_ interested: Bool, now: ContinuousClock.Instant) -> [PeerAction] {
        guard interested != amInterested else { return [] }
        amInterested = interested
        lastSent = now
        return [.send(interested ? .interested : .notInterested)]
    }

    /// Our download is over: no more interest; as a seed, tell the peer we only upload (BEP 21,
    /// in a later extension handshake), or close if it is a seed too.
    public mutating func downloadEnded(weAreSeed: Bool, now: ContinuousClock.Instant) -> [PeerAction] {
        var actions = setInterested(false, now: now)
        guard weAreSeed else { return actions }
        if peerIsSeed { return actions + [.close(.bothSeeds)] }
        if extensionProtocol && peerExtensions != nil {
            var handshake = ExtensionHandshake()
            handshake.uploadOnly = true
            actions.append(.send(.extended(id: 0, payload: handshake.payload())))
        }
        return actions
    }

    /// Sends an extension message, if the peer speaks that extension (nothing otherwise).
    public func sendExtension(_ name: String, payload: [UInt8]) -> [PeerAction] {
        guard let id = extensions.outgoingID(for: name) else { return [] }
        return [.send(.extended(id: id, payload: payload))]
    }

    /// What the download needs of this peer to top up its requests.
    public var downloadView: PeerDownloadView {
        PeerDownloadView(
            amInterested: amInterested, peerChoking: peerChoking, pieces: peerPieces, outstanding: outstanding,
            isSnubbed: isSnubbed, requestQueueLimit: peerRequestQueueLimit)
    }

    /// The largest request queue the peer accepts (its `reqq`, else libtorrent's default of 250).
    public var peerRequestQueueLimit: Int { max(1, min(peerExtensions?.requestQueueLength ?? 250, 2000)) }

    /// Sends requests the picker chose; ignores any already outstanding.
    public mutating func sendRequests(_ requests: [BlockRequest], now: ContinuousClock.Instant) -> [PeerAction] {
        var actions: [PeerAction] = []
        for request in requests where outstanding.insert(request).inserted {
            actions.append(.send(.request(request)))
        }
        if outstanding.count == actions.count && !actions.isEmpty { lastBlock = now }
        if !actions.isEmpty { lastSent = now }
        return actions
    }

    /// Withdraws a request (another peer delivered the block first, in the endgame).
    public mutating func cancel(_ request: BlockRequest) -> [PeerAction] {
        guard outstanding.remove(request) != nil else { return [] }
        return [.send(.cancel(request))]
    }

    /// Everything still outstanding, released (the connection is closing).
    public mutating func releaseOutstanding() -> [PeerAction] {
        let lost = takeOutstanding()
        return lost.isEmpty ? [] : [.releaseRequests(lost)]
    }

    /// Everything still outstanding, in piece order, forgotten here.
    public mutating func takeOutstanding() -> [BlockRequest] {
        defer { outstanding = [] }
        return outstanding.sorted { ($0.piece, $0.offset) < ($1.piece, $1.offset) }
    }

    /// A request's answer: nothing (queued, or a duplicate dropped) or a reject. At most one
    /// action, so no array per request.
    private mutating func gotRequest(_ request: BlockRequest) throws(PeerError) -> PeerAction? {
        let piece = request.piece
        guard configuration.contains(request), request.length <= configuration.maxBlockLength, ours[piece] else {
            throw .invalidRequest(request)
        }
        if amChoking {
            return fastExtension ? .send(.rejectRequest(request)) : nil
        }
        if queue.count >= configuration.maxQueuedRequests {
            overLimit += 1
            if overLimit > configuration.maxQueuedRequests { throw .requestFlood(queued: overLimit) }
            return fastExtension ? .send(.rejectRequest(request)) : nil
        }
        if queue.contains(request) { return nil }
        queue.append(request)
        return nil
    }

    private mutating func rejectAll() -> [PeerAction] {
        defer { queue = RequestQueue() }
        return fastExtension ? queue.elements.map { .send(.rejectRequest($0)) } : []
    }

    private func checkBothSeeds() throws(PeerError) {
        if peerPieces.isFull && ours.isFull { throw .bothSeeds }
    }
}
