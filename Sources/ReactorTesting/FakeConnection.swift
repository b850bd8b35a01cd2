import Reactor

/// A `Connection` with no socket: tests feed inbound bytes with `deliver`, read what the handler
/// wrote with `takeWritten`, and play the peer's and the kernel's part (`flush`, `peerClose`).
public final class FakeConnection: Connection {
    public let remoteAddress: SocketAddress
    public weak var handler: (any ConnectionHandler)?
    private var retainedHandler: (any ConnectionHandler)?
    private var written: [UInt8] = []
    private var unread: [UInt8] = []
    /// Why it closed, once it has.
    public private(set) var closeReason: CloseReason?
    /// Whether `pauseReading` is in force.
    public private(set) var isReadingPaused = false
    /// The low watermark the handler asked for.
    public private(set) var outputLowWatermark = 0
    /// Bytes still to drop from what arrives next (`discardInput`).
    public private(set) var discarding = 0

    /// A connection from `remote`, open, with `handler` attached (kept alive until close).
    public init(remote: SocketAddress = SocketAddress(host: "127.0.0.1", port: 6881)!, handler: (any ConnectionHandler)? = nil) {
        remoteAddress = remote
        self.handler = handler
        retainedHandler = handler
    }

    public var isOpen: Bool { closeReason == nil }

    /// Hands the connection to `handler` (kept alive until close), as a listener does with what
    /// its accept callback returned.
    public func attach(_ handler: any ConnectionHandler) {
        self.handler = handler
        retainedHandler = handler
    }

    /// Everything written and not yet taken; stands in for bytes the kernel has not sent.
    public var pendingOutputBytes: Int { written.count }

    public func write(_ bytes: [UInt8]) {
        guard isOpen else { return }
        written += ciphered(bytes)
    }

    @discardableResult
    public func write(header: [UInt8], block: FileBlock) -> Bool {
        guard isOpen else { return false }
        written += ciphered(header)
        guard block.isWithinFile, let bytes = try? block.readBytes(), bytes.count == block.length else { return false }
        written += ciphered(bytes)
        return true
    }

    /// The stream transform the handler started, if any.
    public private(set) var transform: (any StreamTransform)?

    public func startTransform(_ transform: any StreamTransform) {
        precondition(self.transform == nil, "one transform")
        self.transform = transform
        // What waits unread is deciphered now, like the real connection's input buffer; started
        // from inside `bytesArrived`, the handler's leftovers are deciphered when it returns and
        // offered again at once.
        if !delivering { unread.withUnsafeMutableBytes { transform.inbound($0) } }
    }

    private var delivering = false

    private func ciphered(_ bytes: [UInt8]) -> [UInt8] {
        guard let transform else { return bytes }
        var copy = bytes
        copy.withUnsafeMutableBytes { transform.outbound($0) }
        return copy
    }

    public func setOutputLowWatermark(_ bytes: Int) { outputLowWatermark = bytes }
    /// The per-connection cap last set.
    public private(set) var rateLimit: RateLimit?
    /// How many groups it joined.
    public private(set) var groupsJoined = 0
    public func setRateLimit(_ limit: RateLimit?) { rateLimit = limit }
    public func join(_ group: RateLimitGroup) { groupsJoined += 1 }
    public func pauseReading() { isReadingPaused = true }

    public func resumeReading() {
        isReadingPaused = false
        if !unread.isEmpty { deliver([]) }
    }

    public func discardInput(_ count: Int) { discarding += count }

    public func close(flushingOutput: Bool) {
        finish(.closedLocally)
    }

    /// Tells the handler the connection is up.
    public func makeConnection() { handler?.connectionMade(self) }

    /// Bytes arriving from the peer; what the handler leaves unread is offered again with the next delivery.
    public func deliver(_ bytes: [UInt8]) {
        guard isOpen else { return }
        let dropped = min(discarding, bytes.count)
        discarding -= dropped
        var arrived = Array(bytes.dropFirst(dropped))
        if let transform { arrived.withUnsafeMutableBytes { transform.inbound($0) } }
        unread += arrived
        guard !isReadingPaused, let handler, !unread.isEmpty else { return }
        var input = InputBuffer(bytes: unread)
        let plain = transform == nil
        delivering = true
        handler.bytesArrived(self, &input)
        delivering = false
        unread = input.readAll()
        if plain, let transform, !unread.isEmpty {
            unread.withUnsafeMutableBytes { transform.inbound($0) }
            deliver([])
        }
    }

    /// Returns and forgets what the handler has written so far.
    public func takeWritten() -> [UInt8] {
        defer { written = [] }
        return written
    }

    /// The kernel took all pending output: the handler hears `outputFlushed`.
    public func flush() {
        written = []
        if isOpen { handler?.outputFlushed(self) }
    }

    /// The peer closed its end.
    public func peerClose() { finish(.peerClosed) }

    /// An outgoing connection that never came up.
    public func refuse() { finish(.connectFailed(SystemError(errno: 111, operation: "connect"))) }

    private func finish(_ reason: CloseReason) {
        guard closeReason == nil else { return }
        closeReason = reason
        let handler = retainedHandler ?? self.handler
        retainedHandler = nil
        handler?.connectionClosed(self, reason: reason)
    }
}
