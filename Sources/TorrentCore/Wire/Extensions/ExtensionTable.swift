/// BEP 10 message ids on one connection. Each side names the extensions it speaks in its
/// handshake's `m` dictionary, with the id it wants to *receive* each one as; so a message we send
/// carries the peer's id for it, and one we receive carries ours. Id 0 is the handshake itself; a
/// peer may disable an extension later by sending 0 for it.
///
/// `ExtensionTable.supported` lists what evtorrent speaks; an extension adds its name there and
/// handles `PeerAction.extensionMessage` for it (ut_metadata is 1: `MetadataExchange` names it so
/// before a torrent exists).
public struct ExtensionTable: Equatable, Sendable {
    /// Extension names evtorrent speaks, in the order their ids are assigned (1, 2, ...).
    public static let supported: [String] = ["ut_metadata", "ut_pex"]

    /// Our id for each name we speak.
    public let ours: [String: UInt8]
    /// The peer's id for each name it speaks (absent or 0: it does not, or no longer).
    public private(set) var theirs: [String: UInt8] = [:]
    private let names: [UInt8: String]

    /// A table for `names`, ids assigned 1, 2, ... in order (at most 255).
    public init(speaking names: [String] = ExtensionTable.supported) {
        var ours: [String: UInt8] = [:]
        var byID: [UInt8: String] = [:]
        for (index, name) in names.prefix(255).enumerated() {
            ours[name] = UInt8(index + 1)
            byID[UInt8(index + 1)] = name
        }
        self.ours = ours
        self.names = byID
    }

    /// What a private torrent speaks (BEP 27: no peer exchange).
    public static let withoutPex = supported.filter { $0 != "ut_pex" }

    /// What goes into our handshake's `m`.
    public var handshakeMessages: [String: Int] { ours.mapValues(Int.init) }

    /// The peer's handshake (the first or a later one): its ids replace what it said before;
    /// ids out of range are ignored, 0 disables.
    public mutating func peerAnnounced(_ messages: [String: Int]) {
        for (name, id) in messages where id >= 0 && id <= 255 {
            theirs[name] = id == 0 ? nil : UInt8(id)
        }
    }

    /// The extension an incoming message with `id` is for (nil: not one we assigned).
    public func name(ofIncoming id: UInt8) -> String? { names[id] }

    /// The id to send `name` with, if the peer speaks it.
    public func outgoingID(for name: String) -> UInt8? { theirs[name] }
}
