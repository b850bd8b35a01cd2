import Client
import Reactor

/// `settings.json` in the config directory, with Transmission's key names where the concept is
/// the same. Keys evtorrent does not know are kept and written back as they were; the file is
/// replaced atomically.
public struct DaemonSettings: Sendable {
    /// Every key, in file order (known ones with their current values).
    public private(set) var values: [(String, JSON)]

    /// The defaults, as transmission-daemon has them where it has them.
    public static func defaults(home: String) -> [(String, JSON)] {
        [
            ("download-dir", .string(home + "/Downloads")),
            ("peer-port", .integer(51413)),
            ("peer-limit-global", .integer(18_000)),
            ("peer-limit-per-torrent", .integer(18_000)),
            // evtorrent's own: connections one address may open to us (Transmission has no such cap).
            ("peer-limit-per-address", .integer(4)),
            ("download-queue-enabled", .bool(true)),
            ("download-queue-size", .integer(5)),
            ("rpc-bind-address", .string("0.0.0.0")),
            ("rpc-port", .integer(9091)),
            ("rpc-whitelist-enabled", .bool(true)),
            ("rpc-whitelist", .string("127.0.0.1,::1")),
            ("rpc-authentication-required", .bool(false)),
            ("rpc-username", .string("")),
            ("rpc-password", .string("")),
            ("ratio-limit", .double(2)),
            ("ratio-limit-enabled", .bool(false)),
            ("idle-seeding-limit", .integer(30)),
            ("idle-seeding-limit-enabled", .bool(false)),
            ("speed-limit-up", .integer(100)),
            ("speed-limit-up-enabled", .bool(false)),
            ("speed-limit-down", .integer(100)),
            ("speed-limit-down-enabled", .bool(false)),
            ("pex-enabled", .bool(true)),
            ("lpd-enabled", .bool(false)),
            ("encryption", .integer(1)),
            ("blocklist-enabled", .bool(false)),
            ("blocklist-url", .string("http://www.example.com/blocklist")),
            // evtorrent's own: per-torrent /metrics series for at most this many (the busiest).
            ("metrics-torrent-limit", .integer(100)),
        ]
    }

    /// The settings in `json` over the defaults (a key in the file wins; unknown keys stay).
    public init(json: JSON?, home: String) {
        var merged = Self.defaults(home: home)
        for (key, value) in json?.objectValue ?? [] {
            if let index = merged.firstIndex(where: { $0.0 == key }) { merged[index].1 = value } else { merged.append((key, value)) }
        }
        values = merged
    }

    /// The value of `key`.
    public subscript(key: String) -> JSON? {
        get { values.last { $0.0 == key }?.1 }
        set {
            guard let newValue else { return }
            if let index = values.firstIndex(where: { $0.0 == key }) { values[index].1 = newValue } else { values.append((key, newValue)) }
        }
    }

    /// A string setting.
    public func string(_ key: String) -> String { self[key]?.stringValue ?? "" }
    /// An integer setting (0 when missing or not a number).
    public func integer(_ key: String) -> Int { Int(clamping: self[key]?.integerValue ?? 0) }
    /// A Boolean setting.
    public func bool(_ key: String) -> Bool { self[key]?.boolValue ?? false }

    /// The RPC's access rules.
    public func access(sessionID: String) -> RPCAccess {
        var access = RPCAccess(sessionID: sessionID)
        access.whitelistEnabled = bool("rpc-whitelist-enabled")
        access.whitelist = string("rpc-whitelist").split(separator: ",").map(String.init)
        access.authenticationRequired = bool("rpc-authentication-required")
        access.username = string("rpc-username")
        access.password = string("rpc-password")
        access.passwordCheck = Self.saltedCheck(access.password)
        return access
    }

    /// transmission-daemon stores `rpc-password` as `{`, the hex SHA-1 of password + salt, then
    /// the salt: settings.json moved over from it keeps working. nil for a plain password.
    static func saltedCheck(_ stored: String) -> (@Sendable (String) -> Bool)? {
        let bytes = Array(stored.utf8)
        guard bytes.count > 41, bytes[0] == UInt8(ascii: "{") else { return nil }
        let hash = Array(bytes[1...40])
        let salt = Array(bytes[41...])
        return { password in
            RPCGate.constantTimeEqual(Array(Hex.encode(Digest.hash(.sha1, Array(password.utf8) + salt)).utf8), hash)
        }
    }

    /// A plain `rpc-password` (as a user types it into settings.json) is replaced by its salted
    /// hash in transmission-daemon's format, so the file never keeps it in clear; true if it was.
    public mutating func protectPassword() -> Bool {
        let stored = string("rpc-password")
        guard !stored.isEmpty, Self.saltedCheck(stored) == nil else { return false }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./".utf8)
        var random = SystemRandomNumberGenerator()
        let salt = (0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
        self["rpc-password"] = .string("{" + Hex.encode(Digest.hash(.sha1, Array(stored.utf8) + salt)) + String(decoding: salt, as: UTF8.self))
        return true
    }

    /// Reads `path`; a missing file gives the defaults, a broken one an error that says where.
    public static func load(_ path: String, home: String) throws(DaemonError) -> DaemonSettings {
        guard let bytes = try? FileContents.read(path, limit: 1 << 20) else { return DaemonSettings(json: nil, home: home) }
        do { return DaemonSettings(json: try JSON(parsing: bytes), home: home) } catch {
            throw .badSettings(path, error.description)
        }
    }

    /// Writes the settings back (pretty enough to edit: one key a line), atomically; a file that
    /// already says the same is left alone (every start saves, and most change nothing).
    public func save(_ path: String) throws(SystemError) {
        var out = Array("{\n".utf8)
        for (index, (key, value)) in values.enumerated() {
            out += Array("    ".utf8) + JSON.string(key).encoded() + Array(": ".utf8) + value.encoded()
            out += Array((index + 1 < values.count ? ",\n" : "\n").utf8)
        }
        out += Array("}\n".utf8)
        if let current = try? FileContents.read(path, limit: out.count + 1), current == out { return }
        try FileContents.writeAtomically(out, to: path)
    }
}

/// Why the daemon cannot start, or a request cannot be done, for the user.
public enum DaemonError: Error, Sendable, CustomStringConvertible {
    /// settings.json is not JSON.
    case badSettings(String, String)
    /// The config directory cannot be made or written.
    case configDirectory(String, SystemError)
    /// The RPC port cannot be bound.
    case rpcListen(String, SystemError)
    /// The peer port cannot be bound, or the loop not made.
    case session(String)

    public var description: String {
        switch self {
        case .badSettings(let path, let reason): return "\(path) is not valid JSON (\(reason)): fix or remove it"
        case .configDirectory(let path, let error): return "cannot use the config directory \(path): \(error)"
        case .rpcListen(let address, let error): return "cannot listen for RPC on \(address): \(error) (set rpc-port or --rpc-port)"
        case .session(let reason): return reason
        }
    }
}
