internal import CLibevent

/// Bytes that arrived on a connection and wait to be consumed: a libevent evbuffer in
/// production, a plain array in tests. Handlers drain what they can and leave the rest.
public struct InputBuffer {
    private enum Storage {
        case evbuffer(OpaquePointer)
        case bytes([UInt8])
    }

    private var storage: Storage

    init(evbuffer: OpaquePointer) { storage = .evbuffer(evbuffer) }

    /// A buffer holding `bytes` (for tests and fakes).
    public init(bytes: [UInt8]) { storage = .bytes(bytes) }

    /// How many bytes wait.
    public var count: Int {
        switch storage {
        case .evbuffer(let buffer): return evbuffer_get_length(buffer)
        case .bytes(let bytes): return bytes.count
        }
    }

    /// The first `count` bytes without consuming them; nil if fewer are there.
    public func peek(_ count: Int) -> [UInt8]? {
        guard count <= self.count else { return nil }
        switch storage {
        case .evbuffer(let buffer):
            var out = [UInt8](repeating: 0, count: count)
            _ = out.withUnsafeMutableBytes { evbuffer_copyout(buffer, $0.baseAddress, count) }
            return out
        case .bytes(let bytes):
            return Array(bytes[..<count])
        }
    }

    /// Removes and returns the first `count` bytes; nil (and nothing removed) if fewer are there.
    public mutating func read(_ count: Int) -> [UInt8]? {
        guard count <= self.count else { return nil }
        switch storage {
        case .evbuffer(let buffer):
            var out = [UInt8](repeating: 0, count: count)
            _ = out.withUnsafeMutableBytes { evbuffer_remove(buffer, $0.baseAddress, count) }
            return out
        case .bytes(var bytes):
            let out = Array(bytes[..<count])
            bytes.removeFirst(count)
            storage = .bytes(bytes)
            return out
        }
    }

    /// The big-endian UInt32 at the front, without consuming it; nil if fewer than 4 bytes wait.
    public func peekUInt32() -> UInt32? {
        var value: UInt32 = 0
        switch storage {
        case .evbuffer(let buffer):
            guard evbuffer_get_length(buffer) >= 4 else { return nil }
            _ = withUnsafeMutableBytes(of: &value) { evbuffer_copyout(buffer, $0.baseAddress, 4) }
        case .bytes(let bytes):
            guard bytes.count >= 4 else { return nil }
            withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[..<4]) }
        }
        return UInt32(bigEndian: value)
    }

    /// Hands the first `count` bytes to `body` as one contiguous buffer, then removes them; nil
    /// (and nothing removed) if fewer wait. No allocation: libevent makes them contiguous in place.
    /// If `body` throws, the bytes are still removed. Inlined into the caller, so the generic
    /// parts are specialized there: called across the module unspecialized, it instantiated
    /// generic metadata for every message a peer sent (1 % of a busy seeder).
    @inlinable
    public mutating func consume<Value, Failure: Error>(
        _ count: Int, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Value
    ) throws(Failure) -> Value? {
        guard count <= self.count else { return nil }
        var outcome: Result<Value, Failure>!
        consumeFront(upTo: count) { bytes in
            outcome = Result { () throws(Failure) -> Value in try body(bytes) }
            return bytes.count
        }
        return try outcome.get()
    }

    /// Hands up to `limit` bytes from the front to `body`, contiguous, and removes as many as it
    /// says it used (a run of small messages parsed in place, one drain for all).
    @discardableResult
    public mutating func consumeFront(upTo limit: Int, _ body: (UnsafeRawBufferPointer) -> Int) -> Int {
        let available = min(limit, count)
        let used: Int
        switch storage {
        case .evbuffer(let buffer):
            used = body(UnsafeRawBufferPointer(start: evbuffer_pullup(buffer, available), count: available))
        case .bytes(let bytes):
            used = bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<available])) }
        }
        precondition(used >= 0 && used <= available, "used more than it was given")
        drain(used)
        return used
    }

    /// Removes and returns everything.
    public mutating func readAll() -> [UInt8] { read(count) ?? [] }

    /// Discards the first `count` bytes (or all, if fewer).
    public mutating func drain(_ count: Int) {
        switch storage {
        case .evbuffer(let buffer):
            evbuffer_drain(buffer, count)
        case .bytes(var bytes):
            bytes.removeFirst(min(count, bytes.count))
            storage = .bytes(bytes)
        }
    }
}
