/// What MSE/PE may carry after its handshake (`crypto_provide` / `crypto_select` bits).
public struct MSEMethods: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The stream is plaintext after the handshake.
    public static let plaintext = MSEMethods(rawValue: 0x01)
    /// The stream stays RC4-ciphered.
    public static let rc4 = MSEMethods(rawValue: 0x02)
}

/// The MSE/PE handshake (the Vuze "Message Stream Encryption" spec), in either role, with no I/O:
/// bytes in, bytes to send and an outcome out. The Diffie-Hellman arithmetic and SHA-1 come in as
/// functions (`MSECrypto`), so the machine is tested with fixed keys and split input.
///
///     A→B  Ya, PadA
///     B→A  Yb, PadB
///     A→B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
///          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
///     B→A  ENCRYPT(VC, crypto_select, len(PadD), PadD), then the stream
///
/// Pads are at most 512 bytes: a peer whose marker is not found within them is dropped. The
/// initiator finds B's encrypted VC by comparing with the keystream computed once, never by trial
/// decryption, so its cipher state is advanced exactly once per byte.
public struct MSEHandshake: Sendable {
    /// The spec's 768-bit prime, big-endian (the generator is 2).
    public static let prime: [UInt8] = Hex.decode(Array(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563".lowercased().utf8))!
    /// Public keys and the shared secret are this long (left-padded with zeros).
    public static let keyLength = 96
    /// The longest pad either side may send.
    public static let maxPad = 512
    /// The longest initial payload accepted (a BitTorrent handshake is 68 bytes).
    public static let maxInitialPayload = 1024

    /// The arithmetic the handshake needs.
    public struct Crypto: Sendable {
        /// Our public key (96 bytes).
        public var publicKey: [UInt8]
        /// The shared secret S from the peer's public key (96 bytes), nil if the key is unusable.
        public var secret: @Sendable ([UInt8]) -> [UInt8]?
        /// SHA-1.
        public var sha1: @Sendable ([UInt8]) -> [UInt8]
        /// Random padding of up to `maximum` bytes (the length random too).
        public var pad: @Sendable (_ maximum: Int) -> [UInt8]

        public init(
            publicKey: [UInt8], secret: @escaping @Sendable ([UInt8]) -> [UInt8]?, sha1: @escaping @Sendable ([UInt8]) -> [UInt8],
            pad: @escaping @Sendable (Int) -> [UInt8]
        ) {
            self.publicKey = publicKey
            self.secret = secret
            self.sha1 = sha1
            self.pad = pad
        }
    }

    /// A finished handshake: what was chosen, for which torrent, the ciphers to keep using when
    /// RC4 was, and what followed it.
    public struct Result: Sendable {
        public var method: MSEMethods
        public var infoHash: InfoHash
        /// Ciphers what we send from here on (used only with `.rc4`).
        public var encryptor: RC4
        /// Deciphers what arrives from here on (used only with `.rc4`).
        public var decryptor: RC4
        /// The initiator's initial payload, deciphered (the receiver's side; empty for the initiator).
        public var initialPayload: [UInt8]
        /// Bytes that arrived after the handshake, as they came (still ciphered with `.rc4`).
        public var rest: [UInt8]
    }

    /// What happened with the bytes given.
    public enum Outcome: Sendable {
        case pending
        case done(Result)
        /// The peer broke the handshake (the reason is for the log); close the connection.
        case failed(String)
    }

    private enum Role {
        case initiator(infoHash: InfoHash, provide: MSEMethods, initialPayload: [UInt8])
        case receiver(accept: MSEMethods, prefer: MSEMethods, lookup: @Sendable ([UInt8]) -> InfoHash?)
    }

    private enum Stage {
        case peerKey
        case seekingVC(expected: [UInt8])
        case selectAndPad
        case seekingReq1(req1: [UInt8])
        case obfuscatedHash
        case provideAndPad
        case padC(length: Int)
        case initialPayload(length: Int)
        case finished
    }

    private let role: Role
    private let crypto: Crypto
    private var stage = Stage.peerKey
    private var buffer: [UInt8] = []
    /// The shared secret S, once the peer's key is in.
    private var secret: [UInt8] = []
    private var infoHash: InfoHash?
    private var encryptor: RC4?
    private var decryptor: RC4?
    private var provided: MSEMethods = []
    private var selected: MSEMethods = []
    private var initialPayload: [UInt8] = []

    /// The initiator (we dial): `provide` the methods we offer (RC4 alone when encryption is
    /// required), `initialPayload` our BitTorrent handshake.
    public init(initiatorFor infoHash: InfoHash, provide: MSEMethods, initialPayload: [UInt8], crypto: Crypto) {
        role = .initiator(infoHash: infoHash, provide: provide, initialPayload: initialPayload)
        self.crypto = crypto
        self.infoHash = infoHash
    }

    /// The receiver (a peer dialled us): `accept` the methods we take, choosing `prefer` when the
    /// peer offers it too (RC4 by default); `lookup` finds a torrent by `HASH('req2', info hash)`
    /// (an index kept per torrent: O(1) among thousands).
    public init(
        receiverAccepting accept: MSEMethods, prefer: MSEMethods = .rc4, lookup: @escaping @Sendable ([UInt8]) -> InfoHash?, crypto: Crypto
    ) {
        role = .receiver(accept: accept, prefer: prefer, lookup: lookup)
        self.crypto = crypto
    }

    /// The key the receiver indexes a torrent by: `HASH('req2', info hash)`.
    public static func req2(_ infoHash: InfoHash, sha1: ([UInt8]) -> [UInt8]) -> [UInt8] { sha1(Array("req2".utf8) + infoHash.bytes) }

    /// What to send first: the initiator's Ya and PadA (the receiver waits for Ya: nothing).
    public func opening() -> [UInt8] {
        guard case .initiator = role else { return [] }
        return crypto.publicKey + crypto.pad(Self.maxPad)
    }

    /// Takes bytes from the peer; `send` gets what to send in answer.
    public mutating func received(_ bytes: some Collection<UInt8>, send: (inout [UInt8]) -> Void) -> Outcome {
        buffer.append(contentsOf: bytes)
        while true {
            switch step() {
            case .wait: return .pending
            case .send(var bytes): send(&bytes)
            case .next: continue
            case .fail(let reason): return .failed(reason)
            case .done(let result): return .done(result)
            }
        }
    }

    private enum Step {
        case wait, next
        case send([UInt8])
        case fail(String)
        case done(Result)
    }

    private func hash(_ label: String, _ parts: [UInt8]...) -> [UInt8] { crypto.sha1(Array(label.utf8) + parts.flatMap { $0 }) }

    private mutating func take(_ count: Int) -> [UInt8]? {
        guard buffer.count >= count else { return nil }
        defer { buffer.removeFirst(count) }
        return Array(buffer.prefix(count))
    }

    /// The deciphered next `count` bytes, once they are all there.
    private mutating func takeDeciphered(_ count: Int) -> [UInt8]? {
        guard var bytes = take(count) else { return nil }
        decryptor!.apply(&bytes)
        return bytes
    }

    private static func uint32(_ bytes: ArraySlice<UInt8>) -> UInt32 { bytes.reduce(0) { $0 << 8 | UInt32($1) } }
    private static func uint16(_ bytes: ArraySlice<UInt8>) -> Int { bytes.reduce(0) { $0 << 8 | Int($1) } }
    private static func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    private static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    /// Where `marker` starts in the buffer, or nil; `.fail` if it cannot be there any more
    /// (more than `maxPad` bytes came before it).
    private func find(_ marker: [UInt8]) -> (found: Int?, hopeless: Bool) {
        if buffer.count >= marker.count {
            for start in 0...(buffer.count - marker.count) where start <= Self.maxPad {
                if buffer[start] == marker[0] && buffer[start..<start + marker.count].elementsEqual(marker) { return (start, false) }
            }
        }
        return (nil, buffer.count >= Self.maxPad + marker.count)
    }

    private mutating func step() -> Step {
        switch (stage, role) {
        case (.peerKey, .initiator(let infoHash, let provide, let payload)):
            guard let peerKey = take(Self.keyLength) else { return .wait }
            guard let secret = crypto.secret(peerKey) else { return .fail("unusable Diffie-Hellman key") }
            self.secret = secret
            var encryptor = RC4(key: hash("keyA", secret, infoHash.bytes))
            let decryptor = RC4(key: hash("keyB", secret, infoHash.bytes))
            var probe = decryptor
            self.decryptor = decryptor
            // VC, crypto_provide, an empty PadC, the initial payload.
            var ciphered = [UInt8](repeating: 0, count: 8) + Self.be32(provide.rawValue) + Self.be16(0) + Self.be16(payload.count) + payload
            encryptor.apply(&ciphered)
            self.encryptor = encryptor
            provided = provide
            let obfuscated = zip(hash("req2", infoHash.bytes), hash("req3", secret)).map { $0 ^ $1 }
            stage = .seekingVC(expected: probe.keystream(8))
            return .send(hash("req1", secret) + obfuscated + ciphered)
        case (.seekingVC(let expected), _):
            let (found, hopeless) = find(expected)
            guard let found else { return hopeless ? .fail("no verification constant within \(Self.maxPad) bytes of padding") : .wait }
            buffer.removeFirst(found)
            _ = takeDeciphered(8)
            stage = .selectAndPad
            return .next
        case (.selectAndPad, _):
            guard buffer.count >= 6 else { return .wait }
            var header = Array(buffer.prefix(6))
            var probe = decryptor!
            probe.apply(&header)
            let select = MSEMethods(rawValue: Self.uint32(header[0..<4]))
            let padLength = Self.uint16(header[4..<6])
            guard select == .plaintext || select == .rc4, provided.contains(select) else {
                return .fail("crypto_select \(select.rawValue) was not offered (offered \(provided.rawValue))")
            }
            guard padLength <= Self.maxPad else { return .fail("PadD of \(padLength) bytes, over \(Self.maxPad)") }
            guard buffer.count >= 6 + padLength else { return .wait }
            _ = takeDeciphered(6 + padLength)
            selected = select
            return finish()
        case (.peerKey, .receiver):
            guard let peerKey = take(Self.keyLength) else { return .wait }
            guard let secret = crypto.secret(peerKey) else { return .fail("unusable Diffie-Hellman key") }
            self.secret = secret
            stage = .seekingReq1(req1: hash("req1", secret))
            return .send(crypto.publicKey + crypto.pad(Self.maxPad))
        case (.seekingReq1(let req1), _):
            let (found, hopeless) = find(req1)
            guard let found else { return hopeless ? .fail("no req1 hash within \(Self.maxPad) bytes of padding") : .wait }
            buffer.removeFirst(found + req1.count)
            stage = .obfuscatedHash
            return .next
        case (.obfuscatedHash, .receiver(_, _, let lookup)):
            guard let obfuscated = take(20) else { return .wait }
            let req2 = zip(obfuscated, hash("req3", secret)).map { $0 ^ $1 }
            guard let infoHash = lookup(req2) else { return .fail("asked for a torrent we do not have") }
            self.infoHash = infoHash
            decryptor = RC4(key: hash("keyA", secret, infoHash.bytes))
            encryptor = RC4(key: hash("keyB", secret, infoHash.bytes))
            stage = .provideAndPad
            return .next
        case (.provideAndPad, _):
            guard let header = takeDeciphered(14) else { return .wait }
            guard header[0..<8].allSatisfy({ $0 == 0 }) else { return .fail("wrong verification constant") }
            provided = MSEMethods(rawValue: Self.uint32(header[8..<12]))
            let padLength = Self.uint16(header[12..<14])
            guard padLength <= Self.maxPad else { return .fail("PadC of \(padLength) bytes, over \(Self.maxPad)") }
            stage = .padC(length: padLength)
            return .next
        case (.padC(let length), _):
            guard let bytes = takeDeciphered(length + 2) else { return .wait }
            let payloadLength = Self.uint16(bytes[length...])
            guard payloadLength <= Self.maxInitialPayload else { return .fail("initial payload of \(payloadLength) bytes") }
            stage = .initialPayload(length: payloadLength)
            return .next
        case (.initialPayload(let length), .receiver(let accept, let prefer, _)):
            guard let payload = takeDeciphered(length) else { return .wait }
            initialPayload = payload
            let common = provided.intersection(accept)
            guard !common.isEmpty else { return .fail("offered crypto \(provided.rawValue), we take \(accept.rawValue)") }
            selected = common.contains(prefer) ? prefer : common.contains(.rc4) ? .rc4 : .plaintext
            var answer = [UInt8](repeating: 0, count: 8) + Self.be32(selected.rawValue)
            let padD = crypto.pad(Self.maxPad)
            answer += Self.be16(padD.count) + padD
            encryptor!.apply(&answer)
            stage = .finished
            return .send(answer)
        case (.finished, .receiver):
            return finish()
        default:
            return .fail("handshake out of order")
        }
    }

    private mutating func finish() -> Step {
        stage = .finished
        let rest = buffer
        buffer = []
        return .done(Result(
            method: selected, infoHash: infoHash!, encryptor: encryptor!, decryptor: decryptor!, initialPayload: initialPayload, rest: rest))
    }
}
