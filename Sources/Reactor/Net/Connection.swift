/// Why a connection closed. One reason replaces separate error and close callbacks.
public enum CloseReason: Equatable, Sendable, CustomStringConvertible {
    /// The peer closed its side (end of file).
    case peerClosed
    /// We called `close()`.
    case closedLocally
    /// A socket error.
    case failed(SystemError)
    /// An outgoing connection could not be made.
    case connectFailed(SystemError)
    /// A connect or idle timeout expired.
    case timedOut
    /// TLS negotiation or verification failed.
    case tlsFailed(String)

    public var description: String {
        switch self {
        case .peerClosed: return "closed by peer"
        case .closedLocally: return "closed locally"
        case .failed(let error): return error.description
        case .connectFailed(let error): return "connect failed: \(error.reason)"
        case .timedOut: return "timed out"
        case .tlsFailed(let detail): return "TLS failed: \(detail)"
        }
    }
}

/// What a connection tells its owner (mainline RawServer's handler; NIO's ChannelHandler).
/// Called on the loop thread only.
public protocol ConnectionHandler: AnyObject {
    /// The connection is open (for outgoing connections: the connect succeeded).
    func connectionMade(_ connection: any Connection)
    /// Bytes arrived; consume what can be used now and leave the rest in `input`.
    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer)
    /// Pending output fell to the low watermark: a good moment to queue more.
    func outputFlushed(_ connection: any Connection)
    /// The connection is gone; called exactly once, after which it does nothing.
    func connectionClosed(_ connection: any Connection, reason: CloseReason)
}

extension ConnectionHandler {
    /// Does nothing by default.
    public func connectionMade(_ connection: any Connection) {}
    /// Does nothing by default.
    public func outputFlushed(_ connection: any Connection) {}
}

/// One byte stream to a peer, owned by the loop. Backpressure is explicit: producers look at
/// `pendingOutputBytes` and wait for `outputFlushed` above their high watermark.
public protocol Connection: AnyObject {
    /// The peer's address.
    var remoteAddress: SocketAddress { get }
    /// Bytes queued for sending and not yet handed to the kernel.
    var pendingOutputBytes: Int { get }
    /// Whether the connection is still open.
    var isOpen: Bool { get }
    /// Who hears this connection's events.
    var handler: (any ConnectionHandler)? { get set }
    /// Queues bytes for sending.
    func write(_ bytes: [UInt8])
    /// Queues a header and then a block of file data: the payload path (DESIGN §2). Returns false
    /// (after queueing the header) if the block could not be read; the caller should close.
    @discardableResult func write(header: [UInt8], block: FileBlock) -> Bool
    /// `outputFlushed` fires when pending output falls to this many bytes (default 0).
    func setOutputLowWatermark(_ bytes: Int)
    /// Stops reading from the socket (input stays queued in the kernel).
    func pauseReading()
    /// Starts reading again.
    func resumeReading()
    /// Drops the next `count` bytes that arrive after what the input buffer holds now, in the
    /// kernel (`recv` with `MSG_TRUNC`): no copy, for a receiver that counts payload and never
    /// looks at it (`evtorrent bench`). The handler drains the buffered part itself first.
    func discardInput(_ count: Int)
    /// Puts `transform` under the stream from here on: input not yet consumed (bytes that came
    /// with the last handshake message included) and all that arrives later is deciphered before
    /// the handler sees it; everything written after this call is ciphered. Output already
    /// queued stays as it was. Not combinable with `discardInput`.
    func startTransform(_ transform: any StreamTransform)
    /// Caps this connection's own rates (nil removes the cap).
    func setRateLimit(_ limit: RateLimit?)
    /// Shares `group`'s cap with its other members (the global limits).
    func join(_ group: RateLimitGroup)
    /// Closes; with `flushingOutput`, after what is queued has been sent.
    func close(flushingOutput: Bool)
    /// Hands the connection to `handler`, kept alive until the close (the previous one is let
    /// go): a connection that turns out to be for something else changes hands this way.
    func attach(_ handler: any ConnectionHandler)
    /// Gathers the `write(header:block:)` calls that follow, until `endBatch()`, into one
    /// `writev` of headers and mapped blocks: no buffer chain per block when the socket takes
    /// them all. Only while nothing else is queued (order is kept); other writes end the batch.
    func beginBatch()
    /// Hands the gathered writes to the kernel; what it does not take is queued as usual.
    func endBatch()
}

extension Connection {
    /// Writes one by one (connections without a batch path).
    public func beginBatch() {}
    /// Nothing gathered.
    public func endBatch() {}

    /// Closes at once, dropping queued output.
    public func close() { close(flushingOutput: false) }
}
