/// Fetching a magnet's metadata over many connections at once, with no I/O (BEP 9 on BEP 10):
/// what to say to each peer right after the handshake, what to ask it for as its extension
/// handshake arrives, what to do with each answer, and whom to drop. `MetadataAssembly` decides
/// which piece to ask whom for and checks each answer; this adds the per-connection part: the
/// peer's id for `ut_metadata`, a few requests in flight per peer, a deadline on each, and
/// serving (rejecting: we have nothing yet) what peers ask of us.
public struct MetadataExchange: Sendable {
    /// What the caller does next.
    public enum Action: Equatable, Sendable {
        /// Send this message to this peer.
        case send(PeerKey, PeerMessage)
        /// Close this peer's connection (it lied, stalled or cannot help).
        case drop(PeerKey, String)
        /// Every piece is in: hash these bytes and call `verified` with whether they match.
        case check([UInt8])
    }

    /// Requests in flight per peer (metadata is a few pieces; four keep one peer busy on a long
    /// path without leaving others idle).
    public static let requestsPerPeer = 4
    /// A peer that has not answered a request by then is dropped and its pieces asked elsewhere.
    public static let requestTimeout: Duration = .seconds(20)
    /// Requests of ours a peer may make before it is a flood (it gets rejects meanwhile).
    public static let maxRequestsServed = 256

    private struct Peer: Sendable {
        /// The peer's id for ut_metadata (nil until its handshake names one).
        var theirID: UInt8?
        var outstanding: [Int: ContinuousClock.Instant] = [:]
        var requestsServed = 0
    }

    /// The assembly of the pieces.
    public private(set) var assembly = MetadataAssembly()
    private var peers: [PeerKey: Peer] = [:]
    /// Our id for ut_metadata, as our handshake names it.
    public let ourID: UInt8
    /// What our extension handshake says besides `m`.
    private let client: String
    private let listenPort: Int?

    /// An exchange that names ut_metadata as `ourID` to peers, with our client name and port.
    public init(ourID: UInt8 = 1, client: String = "evtorrent 0.1", listenPort: Int? = nil) {
        self.ourID = ourID
        self.client = client
        self.listenPort = listenPort
    }

    /// Peers connected past the handshake.
    public var peerCount: Int { peers.count }

    /// A peer finished the BitTorrent handshake (with the extension bit: a peer without it cannot
    /// help and is not added). Returns our extension handshake, and with the fast extension
    /// HaveNone (we have no pieces we could name yet).
    public mutating func peerJoined(_ peer: PeerKey, fast: Bool) -> [Action] {
        peers[peer] = Peer()
        var handshake = ExtensionHandshake()
        handshake.messages = ["ut_metadata": Int(ourID)]
        handshake.client = client
        handshake.listenPort = listenPort
        var actions: [Action] = [.send(peer, .extended(id: 0, payload: handshake.payload()))]
        if fast { actions.append(.send(peer, .haveNone)) }
        return actions
    }

    /// A message from a peer. Everything but BEP 10 is ignored here (the pieces it has are of
    /// no use before the metadata is).
    public mutating func received(_ message: PeerMessage, from key: PeerKey, now: ContinuousClock.Instant) -> [Action] {
        guard peers[key] != nil, case .extended(let id, let payload) = message else { return [] }
        if id == 0 {
            guard let handshake = try? ExtensionHandshake(payload: payload) else {
                return [.drop(key, "sent an extension handshake that is not a bencoded dictionary")]
            }
            peers[key]!.theirID = handshake.messages["ut_metadata"].flatMap { $0 > 0 && $0 <= 255 ? UInt8($0) : nil }
            guard peers[key]!.theirID != nil else { return [.drop(key, "does not offer ut_metadata")] }
            // A size we cannot use (none, 0 while it fetches too, over the cap, or not the size
            // others gave) leaves the peer connected but unasked.
            _ = assembly.peerAdvertised(key, size: handshake.metadataSize)
            return fill(key, now: now)
        }
        guard id == ourID else { return [] }
        let decoded: MetadataMessage
        do { decoded = try MetadataMessage(decoding: payload) } catch {
            return [.drop(key, "sent a malformed ut_metadata message: \(error)")]
        }
        switch decoded {
        case .request(let piece):
            peers[key]!.requestsServed += 1
            guard peers[key]!.requestsServed <= Self.maxRequestsServed else {
                return [.drop(key, "asked for metadata \(Self.maxRequestsServed) times")]
            }
            return reply(key, MetadataMessage.reject(piece: piece))
        case .data(let piece, _, _), .reject(let piece):
            peers[key]!.outstanding.removeValue(forKey: piece)
            switch assembly.received(decoded, from: key) {
            // A reject frees the piece for the other peers.
            case .none: return decoded == .reject(piece: piece) ? fillAll(now: now) : fill(key, now: now)
            case .check(let bytes): return [.check(bytes)]
            case .ban(let peer, let reason): return dropped(peer, reason, now: now)
            }
        }
    }

    /// A peer's connection ended: what it was asked goes to the others.
    public mutating func peerLeft(_ key: PeerKey, now: ContinuousClock.Instant) -> [Action] {
        guard peers.removeValue(forKey: key) != nil else { return [] }
        assembly.peerLeft(key)
        return fillAll(now: now)
    }

    /// The assembled whole was hashed. On a mismatch every peer that sent part of it is dropped
    /// and the fetch starts over with the rest.
    public mutating func verified(_ ok: Bool, now: ContinuousClock.Instant) -> [Action] {
        let guilty = assembly.verified(ok)
        guard !ok else { return [] }
        var actions: [Action] = []
        for peer in guilty where peers[peer] != nil {
            actions.append(.drop(peer, "sent metadata that does not match the info hash"))
            peers.removeValue(forKey: peer)
        }
        return actions + fillAll(now: now)
    }

    /// Periodic upkeep: a peer sitting on a request past the deadline is dropped.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for (key, peer) in peers where peer.outstanding.values.contains(where: { now - $0 > Self.requestTimeout }) {
            actions += dropped(key, "did not answer a metadata request in \(Self.requestTimeout)", now: now)
        }
        return actions
    }

    private mutating func dropped(_ key: PeerKey, _ reason: String, now: ContinuousClock.Instant) -> [Action] {
        guard peers.removeValue(forKey: key) != nil else { return [] }
        assembly.peerLeft(key)
        return [.drop(key, reason)] + fillAll(now: now)
    }

    private mutating func fillAll(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for key in peers.keys.sorted() { actions += fill(key, now: now) }
        return actions
    }

    /// Tops up a peer's requests.
    private mutating func fill(_ key: PeerKey, now: ContinuousClock.Instant) -> [Action] {
        guard var peer = peers[key], let theirID = peer.theirID else { return [] }
        var actions: [Action] = []
        while peer.outstanding.count < Self.requestsPerPeer, let piece = assembly.nextRequest(for: key) {
            peer.outstanding[piece] = now
            actions.append(.send(key, .extended(id: theirID, payload: MetadataMessage.request(piece: piece).encoded())))
        }
        peers[key] = peer
        return actions
    }

    private func reply(_ key: PeerKey, _ message: MetadataMessage) -> [Action] {
        guard let theirID = peers[key]?.theirID else { return [] }
        return [.send(key, .extended(id: theirID, payload: message.encoded()))]
    }
}

extension MetadataMessage {
    /// The answer to a request for `piece` of `metadata` (a torrent's info dictionary): the piece,
    /// or a reject for a piece past the end.
    public static func answer(_ piece: Int, metadata: [UInt8]) -> MetadataMessage {
        guard piece >= 0, piece < pieceCount(size: metadata.count) else { return .reject(piece: piece) }
        let start = piece * pieceSize
        return .data(piece: piece, totalSize: metadata.count, bytes: metadata[start..<start + length(ofPiece: piece, size: metadata.count)])
    }
}

extension Metainfo {
    /// A .torrent file around an info dictionary fetched by BEP 9, with the magnet's trackers:
    /// `announce` (the first) and `announce-list` (one tier each), then `info` as fetched.
    public static func torrentFile(infoBytes: [UInt8], trackers: [String]) -> [UInt8] {
        var top: [UInt8] = Array("d".utf8)
        if let first = trackers.first {
            Bencode.encode(.string("announce"), into: &top)
            Bencode.encode(.string(first), into: &top)
            Bencode.encode(.string("announce-list"), into: &top)
            Bencode.encode(.list(trackers.map { .list([.string($0)]) }), into: &top)
        }
        Bencode.encode(.string("info"), into: &top)
        top += infoBytes
        top += Array("e".utf8)
        return top
    }
}
