/// BEP 15 UDP tracker packets: connect, announce, scrape and error, in both directions, plus the
/// retransmission schedule. Pure encoding; sockets and timers live in Client.
public enum UDPTrackerPacket: Equatable, Sendable {
    /// The magic constant a connect request carries.
    public static let protocolID: UInt64 = 0x417_2710_1980

    /// Client → tracker: ask for a connection id.
    case connectRequest(transaction: UInt32)
    /// Tracker → client: a connection id valid for about a minute.
    case connectResponse(transaction: UInt32, connectionID: UInt64)
    /// Client → tracker: an announce (BEP 15 layout of the BEP 3 fields).
    case announceRequest(connectionID: UInt64, transaction: UInt32, request: AnnounceRequest)
    /// Tracker → client: interval, counts and compact peers.
    case announceResponse(transaction: UInt32, interval: UInt32, leechers: UInt32, seeders: UInt32, peers: [TrackerPeer])
    /// Client → tracker: scrape up to ~74 torrents.
    case scrapeRequest(connectionID: UInt64, transaction: UInt32, infoHashes: [InfoHash])
    /// Tracker → client: (seeders, completed, leechers) per torrent, in request order.
    case scrapeResponse(transaction: UInt32, counts: [(seeders: UInt32, completed: UInt32, leechers: UInt32)])
    /// Tracker → client: a refusal with a message.
    case error(transaction: UInt32, message: String)

    enum Action: UInt32 { case connect = 0, announce = 1, scrape = 2, error = 3 }

    /// The transaction id every packet carries.
    public var transaction: UInt32 {
        switch self {
        case .connectRequest(let id), .connectResponse(let id, _), .announceRequest(_, let id, _),
            .announceResponse(let id, _, _, _, _), .scrapeRequest(_, let id, _), .scrapeResponse(let id, _),
            .error(let id, _):
            return id
        }
    }

    /// The datagram's bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ value: UInt32) { appendUInt32(value, to: &out) }
        func u64(_ value: UInt64) {
            u32(UInt32(value >> 32))
            u32(UInt32(value & 0xFFFF_FFFF))
        }
        switch self {
        case .connectRequest(let transaction):
            u64(Self.protocolID)
            u32(Action.connect.rawValue)
            u32(transaction)
        case .connectResponse(let transaction, let connectionID):
            u32(Action.connect.rawValue)
            u32(transaction)
            u64(connectionID)
        case .announceRequest(let connectionID, let transaction, let request):
            u64(connectionID)
            u32(Action.announce.rawValue)
            u32(transaction)
            out += request.infoHash.bytes + request.peerID
            u64(UInt64(clamping: request.downloaded))
            u64(UInt64(clamping: request.left))
            u64(UInt64(clamping: request.uploaded))
            u32(Self.eventCode(request.event))
            u32(0)  // IP: let the tracker use the sender's
            u32(UInt32(truncatingIfNeeded: (request.key.flatMap { UInt32($0, radix: 16) }) ?? 0))
            u32(UInt32(bitPattern: Int32(request.numwant)))
            out += [UInt8(request.port >> 8), UInt8(request.port & 0xFF)]
        case .announceResponse(let transaction, let interval, let leechers, let seeders, let peers):
            u32(Action.announce.rawValue)
            u32(transaction)
            u32(interval)
            u32(leechers)
            u32(seeders)
            for peer in peers { out += peer.compact }
        case .scrapeRequest(let connectionID, let transaction, let hashes):
            u64(connectionID)
            u32(Action.scrape.rawValue)
            u32(transaction)
            for hash in hashes { out += hash.bytes }
        case .scrapeResponse(let transaction, let counts):
            u32(Action.scrape.rawValue)
            u32(transaction)
            for count in counts {
                u32(count.seeders)
                u32(count.completed)
                u32(count.leechers)
            }
        case .error(let transaction, let message):
            u32(Action.error.rawValue)
            u32(transaction)
            out += Array(message.utf8)
        }
        return out
    }

    /// Reads a datagram a tracker sent. `ipv6` says the socket is IPv6, so peers are 18 bytes each.
    /// Nil for anything malformed or not from a tracker (wrong size, unknown action).
    public static func decodeResponse(_ bytes: [UInt8], ipv6: Bool = false) -> UDPTrackerPacket? {
        guard bytes.count >= 8, let action = Action(rawValue: readUInt32(bytes[...], at: 0)) else { return nil }
        let transaction = readUInt32(bytes[...], at: 4)
        let body = bytes[8...]
        switch action {
        case .connect:
            guard body.count >= 8 else { return nil }
            let id = UInt64(readUInt32(body, at: 0)) << 32 | UInt64(readUInt32(body, at: 4))
            return .connectResponse(transaction: transaction, connectionID: id)
        case .announce:
            // opentracker answers a refused announce (e.g. not on its whitelist) with the bare
            // 8-byte header; treat that as a refusal rather than waiting for a retry.
            guard body.count >= 12 else { return .error(transaction: transaction, message: "announce refused (empty response)") }
            let size = ipv6 ? 18 : 6
            let peerBytes = body.dropFirst(12)
            let peers = stride(from: peerBytes.startIndex, to: peerBytes.endIndex - (peerBytes.count % size), by: size)
                .compactMap { start -> TrackerPeer? in
                    let port = UInt16(peerBytes[start + size - 2]) << 8 | UInt16(peerBytes[start + size - 1])
                    return port == 0 ? nil : TrackerPeer(ip: Array(peerBytes[start..<start + size - 2]), port: port)
                }
            return .announceResponse(
                transaction: transaction, interval: readUInt32(body, at: 0), leechers: readUInt32(body, at: 4),
                seeders: readUInt32(body, at: 8), peers: peers)
        case .scrape:
            let counts = stride(from: 0, to: body.count - body.count % 12, by: 12).map { offset in
                (readUInt32(body, at: offset), readUInt32(body, at: offset + 4), readUInt32(body, at: offset + 8))
            }
            return .scrapeResponse(transaction: transaction, counts: counts)
        case .error:
            return .error(transaction: transaction, message: String(decoding: body, as: UTF8.self).printable())
        }
    }

    static func eventCode(_ event: AnnounceEvent) -> UInt32 {
        switch event {
        case .none: return 0
        case .completed: return 1
        case .started: return 2
        case .stopped: return 3
        }
    }

    public static func == (lhs: UDPTrackerPacket, rhs: UDPTrackerPacket) -> Bool { lhs.encoded() == rhs.encoded() }
}

/// BEP 15 timing: wait 15·2ⁿ seconds for the n-th retry, give up after `maxAttempts`; a
/// connection id may be reused for 60 s.
public enum UDPTrackerSchedule {
    /// Attempts before the tracker counts as failed (BEP 15 allows up to 9: 15 s … 3840 s).
    public static let maxAttempts = 4
    /// How long a connection id stays usable.
    public static let connectionIDLifetime: Duration = .seconds(60)

    /// How long to wait for an answer to attempt `attempt` (0-based), or nil once out of attempts.
    /// `base` is BEP 15's 15 s; tests shrink it.
    public static func timeout(attempt: Int, base: Duration = .seconds(15)) -> Duration? {
        guard attempt >= 0, attempt < maxAttempts else { return nil }
        return base * (1 << attempt)
    }
}
