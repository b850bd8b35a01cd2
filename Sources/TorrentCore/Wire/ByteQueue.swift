/// Bytes received and not yet decoded: appended at the back, consumed from the front, compacted
/// lazily so a long stream costs amortised O(1) per byte.
public struct ByteQueue: Sendable {
    private var storage: [UInt8] = []
    private var head = 0

    /// An empty queue.
    public init() {}

    /// A queue holding `bytes` (no copy).
    public init(_ bytes: [UInt8]) { storage = bytes }

    /// Bytes waiting.
    public var count: Int { storage.count - head }

    /// Appends bytes at the back.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if head > 0 && head >= storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
        storage.append(contentsOf: bytes)
    }

    /// The byte `offset` places from the front.
    public subscript(offset: Int) -> UInt8 { storage[head + offset] }

    /// The next `length` bytes without consuming them.
    public func peek(_ length: Int) -> ArraySlice<UInt8> { storage[head..<head + length] }

    /// Removes and returns the next `length` bytes.
    public mutating func take(_ length: Int) -> ArraySlice<UInt8> {
        defer { head += length }
        return storage[head..<head + length]
    }

    /// Discards the next `length` bytes.
    public mutating func skip(_ length: Int) { head += length }
}
