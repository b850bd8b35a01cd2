import Reactor
import TorrentCore

/// One peer while a magnet's metadata is fetched: the BitTorrent handshake, then message framing;
/// every decision (what to send, whom to drop) is `MetadataExchange`'s, through the fetch. What
/// the peer says of its pieces and its choking means nothing before the metadata does, so it is
/// kept as it came; once the metadata is in, the connection (still open) is handed to the torrent
/// with those messages, which replay them (`Handover`). Reconnecting instead cost 10 s against
/// Transmission, which refuses a peer that comes straight back.
final class MetadataConnection: ConnectionHandler {
    private unowned let fetch: MetadataFetch
    let key: PeerKey
    private(set) var connection: (any Connection)?
    let remote: SocketAddress
    /// Whether we dialled it (the address is one to dial again once the torrent runs).
    let outgoing: Bool
    /// Whether its handshake went through.
    private(set) var joined = false
    /// The port it listens on, from its extension handshake (an incoming peer's address to dial).
    var listenPort: Int?
    private var queue = ByteQueue()
    private var decoder = PeerMessageDecoder(maxMessageLength: 16 << 10)
    private var handshakeTimer: TimerHandle?
    /// The peer's handshake, once in.
    private var handshake: Handshake?
    /// What the peer said that the torrent will need: its extension handshake, pieces, choking
    /// and interest, in order.
    private var kept: [PeerMessage] = []
    /// Kept messages at most (a peer sending more Haves than any torrent has pieces is dropped).
    static let maxKept = 1 << 20

    init(fetch: MetadataFetch, key: PeerKey, connection: any Connection, outgoing: Bool) {
        self.fetch = fetch
        self.key = key
        self.connection = connection
        remote = connection.remoteAddress
        self.outgoing = outgoing
    }

    func connectionMade(_ connection: any Connection) {
        write(Handshake(infoHash: fetch.link.infoHash, peerID: fetch.session.peerID).encoded())
        handshakeTimer = fetch.session.loop.schedule(after: fetch.session.options.handshakeTimeout) { [weak self] in
            self?.drop("sent no handshake in time")
        }
    }

    /// An incoming connection whose handshake (already read) named this fetch's torrent, with the
    /// bytes that came after it.
    func adopt(_ handshake: Handshake, rest: ByteQueue) {
        write(Handshake(infoHash: fetch.link.infoHash, peerID: fetch.session.peerID).encoded())
        queue = rest
        guard join(handshake) else { return }
        readMessages()
    }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {
        let arrived = input.count
        queue.append(input.readAll())
        fetch.session.countWire(uploaded: 0, downloaded: arrived)
        if !joined {
            let handshake: Handshake?
            do { handshake = try Handshake.decode(from: &queue) } catch { return drop("\(error)") }
            guard let handshake else { return }
            handshakeTimer?.cancel()
            handshakeTimer = nil
            guard handshake.infoHash == fetch.link.infoHash else { return drop("answered for another torrent") }
            guard join(handshake) else { return }
        }
        readMessages()
    }

    private func join(_ handshake: Handshake) -> Bool {
        guard handshake.peerID != fetch.session.peerID else {
            drop("is ourselves")
            return false
        }
        guard handshake.supportsExtensions else {
            drop("does not speak the extension protocol, so it cannot send metadata")
            return false
        }
        joined = true
        self.handshake = handshake
        decoder = PeerMessageDecoder(pieceCount: 0)
        fetch.joined(self, fast: handshake.supportsFast)
        return connection != nil
    }

    private func readMessages() {
        do throws(WireError) {
            while connection != nil, let message = try decoder.next(from: &queue) {
                switch message {
                case .bitfield, .haveAll, .haveNone, .have, .choke, .unchoke, .interested, .notInterested, .extended(id: 0, _):
                    guard kept.count < Self.maxKept else { return drop("sent more than \(Self.maxKept) messages before the metadata was in") }
                    kept.append(message)
                default: break
                }
                fetch.received(message, from: self)
            }
        } catch {
            drop("\(error)")
        }
    }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) {
        handshakeTimer?.cancel()
        self.connection = nil
        fetch.closed(self, reason: reason)
    }

    /// Sends one message.
    func send(_ message: PeerMessage) { write(message.encoded()) }

    private func write(_ bytes: [UInt8]) {
        guard let connection else { return }
        fetch.session.countWire(uploaded: bytes.count, downloaded: 0)
        connection.write(bytes)
    }

    /// Closes with a logged reason.
    func drop(_ reason: String) {
        guard let connection else { return }
        fetch.session.log.debug("metadata_peer_dropped", [("peer", remote), ("reason", reason)])
        connection.close()
    }

    /// Closes without a word (the fetch is over).
    func close() { connection?.close() }

    /// The connection, past its handshake, with what the peer said so far and the bytes not yet
    /// framed; this handler lets go of it. Nil before the handshake.
    func handOver() -> Handover? {
        guard joined, let connection, let handshake else { return nil }
        self.connection = nil
        handshakeTimer?.cancel()
        defer {
            kept = []
            queue = ByteQueue()
        }
        return Handover(connection: connection, handshake: handshake, kept: kept, rest: queue, outgoing: outgoing)
    }
}

/// A peer connection a magnet's fetch passes to the torrent it became: the handshake both ways
/// is done (and with the fast extension we said HaveNone), `kept` replays what the peer said.
struct Handover {
    let connection: any Connection
    let handshake: Handshake
    let kept: [PeerMessage]
    let rest: ByteQueue
    let outgoing: Bool
}

@available(*, unavailable)
extension MetadataConnection: Sendable {}
