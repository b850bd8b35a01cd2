/// The index of a piece within a torrent (libtorrent's `piece_index_t`).
public struct PieceIndex: Hashable, Strideable, Sendable, CustomStringConvertible {
    /// The zero-based index.
    public let value: Int
    /// The piece at `value`.
    public init(_ value: Int) { self.value = value }
    public static func < (lhs: PieceIndex, rhs: PieceIndex) -> Bool { lhs.value < rhs.value }
    public func distance(to other: PieceIndex) -> Int { other.value - value }
    public func advanced(by n: Int) -> PieceIndex { PieceIndex(value + n) }
    public var description: String { String(value) }
}

/// The index of a file within a torrent's file list.
public struct FileIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The zero-based index.
    public let value: Int
    /// The file at `value`.
    public init(_ value: Int) { self.value = value }
    public static func < (lhs: FileIndex, rhs: FileIndex) -> Bool { lhs.value < rhs.value }
    public var description: String { String(value) }
}

/// One connected peer, as the swarm logic knows it: a number the caller assigns per connection
/// and never reuses while that connection lives (libtorrent's `torrent_peer*`, as a value).
public struct PeerKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The caller's number for the connection.
    public let value: Int
    /// The peer numbered `value`.
    public init(_ value: Int) { self.value = value }
    public static func < (lhs: PeerKey, rhs: PeerKey) -> Bool { lhs.value < rhs.value }
    public var description: String { "#\(value)" }
}
