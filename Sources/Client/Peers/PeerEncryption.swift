import Reactor
import TorrentCore

/// Whether connections are encrypted (MSE/PE), with Transmission's names and values for its
/// `encryption` setting: 0 tolerated, 1 preferred, 2 required.
public enum EncryptionPolicy: String, CaseIterable, Sendable {
    /// Plaintext out; encrypted and plaintext peers both taken in.
    case tolerated
    /// Encrypted out, falling back to plaintext when the peer does not speak it; both taken in.
    case preferred
    /// Encrypted only, both ways: plaintext peers are refused.
    case required

    /// Transmission's number for it.
    public var transmissionValue: Int { self == .tolerated ? 0 : self == .preferred ? 1 : 2 }

    /// The policy Transmission's number stands for (out of range: nil).
    public init?(transmissionValue: Int) {
        switch transmissionValue {
        case 0: self = .tolerated
        case 1: self = .preferred
        case 2: self = .required
        default: return nil
        }
    }

    /// What an MSE handshake may end in under this policy.
    var methods: MSEMethods { self == .required ? .rc4 : [.rc4, .plaintext] }
}

/// RC4 both ways under the wire codec (`Connection.startTransform`): PeerSession never knows.
public final class RC4Transform: StreamTransform {
    private var encryptor: RC4
    private var decryptor: RC4

    /// A transform that ciphers what is sent with `encryptor` and deciphers what arrives with
    /// `decryptor` (an MSE handshake's, as it left them).
    public init(encryptor: RC4, decryptor: RC4) {
        self.encryptor = encryptor
        self.decryptor = decryptor
    }

    public func inbound(_ bytes: UnsafeMutableRawBufferPointer) { decryptor.apply(bytes) }
    public func outbound(_ bytes: UnsafeMutableRawBufferPointer) { encryptor.apply(bytes) }
}

extension MSEHandshake.Crypto {
    /// What an MSE handshake needs, for real: a fresh Diffie-Hellman key pair (OpenSSL), SHA-1,
    /// random pads of random length.
    public static func fresh() -> MSEHandshake.Crypto {
        let keys = KeyExchange(prime: MSEHandshake.prime)
        return MSEHandshake.Crypto(
            publicKey: keys.publicKey, secret: { keys.secret($0) }, sha1: { Digest.sha1($0[...]) },
            pad: { maximum in KeyExchange.randomBytes(Int.random(in: 0...maximum)) })
    }
}

extension Session {
    func encryptionCrypto() -> MSEHandshake.Crypto { .fresh() }

    /// Torrents and magnets by `HASH('req2', info hash)`, for incoming encrypted handshakes,
    /// built when the first one needs it and kept by `indexForEncryption` from then on: a daemon
    /// starting with thousands of torrents spends no SHA-1 on it (a fifth of attaching them).
    var encryptionIndex: [[UInt8]: InfoHash] {
        if let encryptionIndexBuilt { return encryptionIndexBuilt }
        var index: [[UInt8]: InfoHash] = [:]
        for infoHash in torrents.keys { index[Self.encryptionKey(infoHash)] = infoHash }
        for infoHash in fetches.keys { index[Self.encryptionKey(infoHash)] = infoHash }
        encryptionIndexBuilt = index
        return index
    }

    /// Keeps `infoHash` in the encryption index while a torrent or a magnet of it is here.
    func indexForEncryption(_ infoHash: InfoHash) {
        guard encryptionIndexBuilt != nil else { return }
        let key = Self.encryptionKey(infoHash)
        encryptionIndexBuilt![key] = torrents[infoHash] != nil || fetches[infoHash] != nil ? infoHash : nil
    }

    /// The receiver's side of an MSE handshake for an incoming connection: it finds the torrent
    /// (or magnet) by `HASH('req2', info hash)` in the session's index.
    func encryptionReceiver() -> MSEHandshake {
        let index = encryptionIndex
        // Tolerated: plaintext when the peer offers it (no cipher on the payload path).
        let prefer: MSEMethods = options.encryption == .tolerated ? .plaintext : .rc4
        return MSEHandshake(receiverAccepting: options.encryption.methods, prefer: prefer, lookup: { index[$0] }, crypto: encryptionCrypto())
    }

    /// The initiator's side for a connection we open to `torrent`, our BitTorrent handshake as
    /// its initial payload.
    func encryptionInitiator(for infoHash: InfoHash, handshake: [UInt8]) -> MSEHandshake {
        MSEHandshake(initiatorFor: infoHash, provide: options.encryption.methods, initialPayload: handshake, crypto: encryptionCrypto())
    }

    func peerEncrypted() { stats.encryptedPeers += 1 }

    /// The index key of an info hash for incoming encrypted handshakes.
    static func encryptionKey(_ infoHash: InfoHash) -> [UInt8] { MSEHandshake.req2(infoHash) { Digest.sha1($0[...]) } }
}
