internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

private func bufferEventRead(_ bev: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<BufferEventConnection>.fromOpaque(context!).takeUnretainedValue().socketRead()
}

private func bufferEventWrite(_ bev: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<BufferEventConnection>.fromOpaque(context!).takeUnretainedValue().writeDrained()
}

private func directReadArrived(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<BufferEventConnection>.fromOpaque(context!).takeUnretainedValue().readDirectly()
}

private func bufferEventEvent(_ bev: OpaquePointer?, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    let error = errno  // read before anything else can change it
    Unmanaged<BufferEventConnection>.fromOpaque(context!).takeUnretainedValue().eventArrived(what, errno: error)
}

/// Tuning every connection gets.
public struct ConnectionOptions: Sendable {
    /// Bytes the input buffer may hold before libevent stops reading (a flood cap per peer).
    public var inputLimit = 1 << 20
    /// The largest single write; libevent's default of 16 KiB costs a syscall per block (LIBEVENT-NOTES §3).
    public var maxSingleWrite = 1 << 20
    /// The largest single read.
    public var maxSingleRead = 256 << 10
    /// Accepted sockets start lean: no bufferevent until a rate limit needs one (an idle peer
    /// costs one event instead of about 1 KiB of libevent's).
    public var lean = true

    /// The defaults.
    public init() {}
}

/// A `Connection` over one libevent bufferevent, or, lean, over the socket itself.
///
/// Lean (accepted sockets, `ConnectionOptions.lean`): there is no bufferevent. One persistent
/// read event reads the socket into an input evbuffer that exists only while bytes wait, and
/// output waits in an evbuffer written by a write event, both made when bytes wait and freed when
/// they are gone: an idle peer holds one event where a bufferevent, its two evbuffers and their
/// callbacks took about 1 KiB (issue 17's idle-peer budget). Handlers see no difference. A rate
/// limit needs libevent's buckets: the connection then becomes a bufferevent (`promote`), buffers
/// and all.
///
/// Ownership: while the bufferevent lives, the loop's registry of open connections holds this
/// object (added in `init`, removed as the last step of `finish`), so the connection stays alive
/// however its owner drops it, libevent never calls back into a freed object, and a loop that is
/// torn down closes whatever is still open.
final class BufferEventConnection: Connection {
    var bev: OpaquePointer?
    /// The loop outlives its connections (its registry holds them; tearing it down discards them):
    /// a plain pointer, not a checked one (the loop has a side table: two slow atomics per use).
    unowned(unsafe) let loop: EventLoop
    var closingAfterFlush = false
    private var connectTimer: TimerHandle?
    /// libevent keeps a pointer to the configuration, so it lives until the bufferevent is freed.
    private var rateConfiguration: OpaquePointer?
    private(set) var isConnected: Bool
    let remoteAddress: SocketAddress
    weak var handler: (any ConnectionHandler)?
    /// Strong reference until the handler is told the connection closed (handlers are usually owned here).
    private var retainedHandler: (any ConnectionHandler)?
    /// Once the handler discards input, reads are ours rather than the bufferevent's: this event
    /// watches the socket, and `discarding` bytes are dropped in the kernel before the next read.
    private var directRead: OpaquePointer?
    var discarding = 0
    var readingPaused = false
    /// The stream transform, once started, and how many bytes at the front of the input buffer
    /// it has already deciphered (the handler left them unread).
    var transform: (any StreamTransform)?
    var transformedInput = 0
    let maxSingleRead: Int
    let maxSingleWrite: Int
    let inputLimit: Int
    /// Lean mode's socket, read event, write event (while output waits) and buffers (while
    /// bytes wait); see the type's comment.
    var leanSocket: Int32 = -1
    var leanReader: OpaquePointer?
    var leanWriter: OpaquePointer?
    var leanInput: OpaquePointer?
    var leanOutput: OpaquePointer?
    /// The handler is reading `leanInput`: it must outlive the callback even if the connection
    /// closes or is promoted meanwhile (then it is freed after).
    var delivering = false
    var inputToFree: OpaquePointer?
    /// The output level at or under which the handler hears `outputFlushed`.
    var lowWatermark = 0
    /// Whether a rate limit (its own or a group's) applies: then libevent alone reads, so its
    /// buckets count every byte.
    var rateLimited = false
    /// Input bytes the handler left unread after the last callback: what libevent read since is
    /// the growth past it.
    var inputLeft = 0
    /// libevent 2.1's evbuffer_read takes at most 4 KiB per call (`EVBUFFER_MAX_READ`; 2.2 made
    /// it settable): a read that filled it means more is waiting.
    private static let libeventReadCap = 4096
    /// Bytes read at a time when not discarding: a header and a little of what follows, so little
    /// of a payload about to be discarded is copied.
    private static let directReadStep: Int32 = 64

    init(loop: EventLoop, bev: OpaquePointer, remote: SocketAddress, connected: Bool, options: ConnectionOptions) {
        self.loop = loop
        self.bev = bev
        self.remoteAddress = remote
        self.isConnected = connected
        maxSingleRead = options.maxSingleRead
        maxSingleWrite = options.maxSingleWrite
        inputLimit = options.inputLimit
        // The loop's registry holds the retain until finish(); the callbacks borrow it.
        loop.register(self)
        configure(bev)
        bufferevent_enable(bev, Int16(EV_READ | EV_WRITE))
    }

    /// Points `bev`'s callbacks here and gives it this connection's limits and watermarks (a new
    /// connection's, or a lean one's being promoted).
    func configure(_ bev: OpaquePointer) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        bufferevent_setcb(bev, bufferEventRead, bufferEventWrite, bufferEventEvent, context)
        bufferevent_setwatermark(bev, Int16(EV_READ), 0, inputLimit)
        bufferevent_setwatermark(bev, Int16(EV_WRITE), lowWatermark, 0)
        bufferevent_set_max_single_write(bev, maxSingleWrite)
        bufferevent_set_max_single_read(bev, maxSingleRead)
    }

    /// A lean connection over an accepted (non-blocking) socket, which it owns.
    init(loop: EventLoop, acceptedSocket fd: Int32, remote: SocketAddress, options: ConnectionOptions) {
        self.loop = loop
        bev = nil
        remoteAddress = remote
        isConnected = true
        maxSingleRead = options.maxSingleRead
        maxSingleWrite = options.maxSingleWrite
        inputLimit = options.inputLimit
        leanSocket = fd
        loop.register(self)
        startLeanReading()
    }

    /// Open, lean or not.
    var isLive: Bool { bev != nil || leanReader != nil }

    /// Lean, and holding no buffer and no write event (an idle peer's state); for tests.
    var isLeanAndIdle: Bool { leanReader != nil && leanInput == nil && leanOutput == nil && leanWriter == nil }

    /// Lean (no bufferevent yet); for tests.
    var isLean: Bool { leanReader != nil }

    /// Where bytes read wait for the handler.
    private var currentInput: OpaquePointer? { bev.map { bufferevent_get_input($0)! } ?? leanInput }

    /// Sets who hears events, keeping it alive until the connection closes.
    func attach(_ handler: any ConnectionHandler) {
        self.handler = handler
        retainedHandler = handler
    }

    var isOpen: Bool { isLive && !closingAfterFlush }

    var pendingOutputBytes: Int {
        if let bev { return evbuffer_get_length(bufferevent_get_output(bev)) + batch.bytes }
        return (leanOutput.map { evbuffer_get_length($0) } ?? 0) + batch.bytes
    }

    /// The output buffer: the bufferevent's, or lean mode's (made if needed; the caller then
    /// arms the writer).
    func outputBuffer() -> OpaquePointer {
        if let bev { return bufferevent_get_output(bev)! }
        if let leanOutput { return leanOutput }
        let made = evbuffer_new()!
        leanOutput = made
        return made
    }

    /// What `beginBatch` gathers until `endBatch` (BatchedWrites.swift).
    var batch = Batch()

    func write(_ bytes: [UInt8]) {
        guard isLive, !closingAfterFlush else { return }
        endBatch()
        if bev == nil, transform == nil, leanOutput == nil, !bytes.isEmpty {
            // Lean with nothing waiting: straight to the socket, and only what it does not take
            // is buffered. A connection's first messages (handshake, bitfield, extensions) then
            // need no 1 KiB buffer chain that is freed a moment later, leaving a hole in the heap
            // among the connection's long-lived objects.
            var sent: Int
            repeat { sent = bytes.withUnsafeBytes { send(leanSocket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) } } while sent < 0 && errno == EINTR
            if sent == bytes.count { return }
            let output = outputBuffer()
            bytes.withUnsafeBytes { _ = evbuffer_add(output, $0.baseAddress! + max(sent, 0), $0.count - max(sent, 0)) }
            armWriter()
            return
        }
        let output = outputBuffer()
        defer { armWriter() }
        if let transform {
            _ = appendCiphered(output, transform, count: bytes.count) { space in
                bytes.withUnsafeBytes { space.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                return true
            }
            return
        }
        bytes.withUnsafeBytes { _ = evbuffer_add(output, $0.baseAddress, $0.count) }
    }

    @discardableResult
    func write(header: [UInt8], block: FileBlock) -> Bool {
        guard isLive, !closingAfterFlush else { return false }
        if batch.on {
            if let mapped = block.file.mapped(offset: block.offset, length: block.length) {
                batch.append(header: header, file: block.file, offset: block.offset, length: block.length, mapped: mapped)
                if batch.items.count >= Self.batchItems {
                    endBatch()
                    beginBatch()
                }
                return true
            }
            endBatch()
        }
        let output = outputBuffer()
        defer { armWriter() }
        if let transform {
            // Ciphered bytes cannot be a reference to the page cache: one copy (pread into the
            // output buffer's own space), then the cipher in place.
            return appendCiphered(output, transform, count: header.count + block.length) { space in
                header.withUnsafeBytes { space.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                return block.read(into: space + header.count)
            }
        }
        guard header.withUnsafeBytes({ Self.appendSmall($0, to: output) }) else { return false }
        return block.append(to: output)
    }

    /// Appends a few bytes (a header). After a block's reference chain, evbuffer_add would size
    /// their new chain like the block's (16 KiB for 13 bytes: 330 MiB of heap at 200 busy
    /// peers); reserving the space gets libevent's smallest chain instead.
    static func appendSmall(_ bytes: UnsafeRawBufferPointer, to output: OpaquePointer) -> Bool {
        guard bytes.count > 0 else { return true }
        var vector = iovec()
        guard evbuffer_reserve_space(output, bytes.count, &vector, 1) == 1 else { return false }
        vector.iov_base!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        vector.iov_len = bytes.count
        return evbuffer_commit_space(output, &vector, 1) == 0
    }

    /// Reserves `count` bytes at the end of the output buffer, lets `fill` write them, ciphers
    /// them in place and commits them: the only copy is `fill`'s. If `fill` fails nothing is
    /// committed and the keystream has not moved.
    private func appendCiphered(_ output: OpaquePointer, _ transform: any StreamTransform, count: Int,
                                fill: (UnsafeMutableRawPointer) -> Bool) -> Bool {
        guard count > 0 else { return true }
        var vector = iovec()
        guard evbuffer_reserve_space(output, count, &vector, 1) == 1, let space = vector.iov_base else { return false }
        guard fill(space) else { return false }
        transform.outbound(UnsafeMutableRawBufferPointer(start: space, count: count))
        vector.iov_len = count
        return evbuffer_commit_space(output, &vector, 1) == 0
    }

    func setOutputLowWatermark(_ bytes: Int) {
        lowWatermark = bytes
        guard let bev else { return }
        bufferevent_setwatermark(bev, Int16(EV_WRITE), bytes, 0)
    }

    func setRateLimit(_ limit: RateLimit?) {
        if limit == nil && bev == nil {
            rateLimited = false
            return
        }
        if bev == nil { promote() }
        guard let bev else { return }
        let configuration = limit?.makeConfiguration()
        rateLimited = limit != nil
        bufferevent_set_rate_limit(bev, configuration)
        if let old = rateConfiguration { ev_token_bucket_cfg_free(old) }
        rateConfiguration = configuration
    }

    func join(_ group: RateLimitGroup) {
        if bev == nil { promote() }
        guard let bev else { return }
        rateLimited = true
        bufferevent_add_to_rate_limit_group(bev, group.group)
    }

    func pauseReading() {
        guard isLive else { return }
        readingPaused = true
        if let bev {
            if let directRead { event_del(directRead) } else { bufferevent_disable(bev, Int16(EV_READ)) }
        } else if let leanReader {
            event_del(leanReader)
        }
    }

    func resumeReading() {
        guard isLive, !closingAfterFlush else { return }
        readingPaused = false
        if let bev {
            if let directRead { event_add(directRead, nil) } else { bufferevent_enable(bev, Int16(EV_READ)) }
        } else if let leanReader {
            event_add(leanReader, nil)
        }
    }

    func startTransform(_ transform: any StreamTransform) {
        precondition(self.transform == nil && directRead == nil, "one transform, and none while discarding input")
        self.transform = transform
        transformedInput = 0
        transformInput()
    }

    /// Deciphers what arrived since the last call, in place in the input buffer.
    private func transformInput() {
        guard let transform, let input = currentInput else { return }
        let length = evbuffer_get_length(input)
        guard length > transformedInput else { return }
        var position = evbuffer_ptr()
        guard evbuffer_ptr_set(input, &position, transformedInput, EVBUFFER_PTR_SET) == 0 else { return }
        let wanted = length - transformedInput
        let count = Int(evbuffer_peek(input, wanted, &position, nil, 0))
        var vectors = [iovec](repeating: iovec(), count: count)
        _ = evbuffer_peek(input, wanted, &position, &vectors, Int32(count))
        var left = wanted
        for vector in vectors where left > 0 {
            let take = min(vector.iov_len, left)
            transform.inbound(UnsafeMutableRawBufferPointer(start: vector.iov_base, count: take))
            left -= take
        }
        transformedInput = length
    }

    func discardInput(_ count: Int) {
        guard isLive, count > 0 else { return }
        precondition(transform == nil, "discarding input under a stream transform would lose the keystream")
        discarding += count
        // Lean, reads are ours already: the next one drops them.
        guard let bev, directRead == nil else { return }
        bufferevent_disable(bev, Int16(EV_READ))
        let context = Unmanaged.passUnretained(self).toOpaque()
        directRead = event_new(loop.base, bufferevent_getfd(bev), Int16(EV_READ | EV_PERSIST), directReadArrived, context)
        if !readingPaused && !closingAfterFlush { event_add(directRead, nil) }
    }

    /// The socket is readable and reads are ours: drop what is to be discarded, read the rest
    /// in small steps (so little of a payload that follows a header is copied) and hand it to the
    /// handler, until the socket is drained or this turn's budget is spent.
    fileprivate func readDirectly() {
        var budget = maxSingleRead
        while budget > 0, !readingPaused, let bev {
            let fd = bufferevent_getfd(bev)
            let count: Int
            if discarding > 0 {
                count = recv(fd, nil, min(discarding, budget), Int32(MSG_TRUNC | MSG_DONTWAIT))
                if count > 0 { discarding -= count }
            } else {
                // A socket bufferevent keeps its input's tail frozen to everyone but itself.
                let input = bufferevent_get_input(bev)
                evbuffer_unfreeze(input, 0)
                count = Int(evbuffer_read(input, fd, Self.directReadStep))
                let readError = errno
                evbuffer_freeze(input, 0)
                errno = readError
                if count > 0 {
                    // The handler may close: its input buffer must outlive the callback, as it
                    // does inside libevent's own callbacks.
                    bufferevent_incref(bev)
                    readArrived()
                    bufferevent_decref(bev)
                }
            }
            if count > 0 {
                budget -= count
            } else if readEnded(count) {
                continue
            } else {
                return
            }
        }
    }

    /// After a read that returned `count` ≤ 0: true to read again (interrupted); otherwise the
    /// socket is drained, or the stream ended or failed and the connection is finished.
    func readEnded(_ count: Int) -> Bool {
        if count == 0 {
            finish(.peerClosed)
            return false
        }
        if errno == EINTR { return true }
        if errno != EAGAIN && errno != EWOULDBLOCK { finish(.failed(SystemError(errno: errno, operation: "recv", path: nil))) }
        return false
    }

    func close(flushingOutput: Bool) {
        guard isLive, !closingAfterFlush else { return }
        if flushingOutput { endBatch() }
        if flushingOutput && pendingOutputBytes > 0 {
            closingAfterFlush = true
            if let bev { bufferevent_disable(bev, Int16(EV_READ)) }
            if let leanReader { event_del(leanReader) }
            if let directRead { event_del(directRead) }
            setOutputLowWatermark(0)
            return
        }
        finish(.closedLocally)
    }

    /// Closes with `.timedOut` unless the connect completes within `timeout`.
    func armConnectTimeout(_ timeout: Duration) {
        connectTimer = loop.schedule(after: timeout) { [weak self] in
            guard let self, !self.isConnected else { return }
            self.finish(.timedOut)
        }
    }

    /// libevent read the socket (4 KiB at most): if that filled its read, the rest that is
    /// waiting is read too, in one call, before the handler hears of it. 1 GiB downloaded took
    /// 262,144 reads, each an event-loop turn and a handler call, plus an ioctl each.
    fileprivate func socketRead() {
        if let bev, !rateLimited {
            let input = bufferevent_get_input(bev)!
            let length = evbuffer_get_length(input)
            if length - inputLeft >= Self.libeventReadCap { readMore(bev, input, room: min(inputLimit - length, maxSingleRead)) }
        }
        readArrived()
    }

    /// Reads up to `room` more bytes from the socket straight into the input buffer's free space.
    /// End of stream and errors are left for libevent's next read to report.
    private func readMore(_ bev: OpaquePointer, _ input: OpaquePointer, room: Int) {
        guard room > 0 else { return }
        // A socket bufferevent keeps its input's tail frozen to everyone but itself.
        evbuffer_unfreeze(input, 0)
        defer { evbuffer_freeze(input, 0) }
        _ = Self.read(bufferevent_getfd(bev), into: input, room: room)
    }

    func readArrived() {
        guard let handler, let buffer = currentInput else { return }
        if transform != nil { transformInput() }
        let wasLean = bev == nil
        var input = InputBuffer(evbuffer: buffer)
        delivering = true
        handler.bytesArrived(self, &input)
        delivering = false
        if let inputToFree {
            // Closed or promoted while the handler read: its buffer goes now.
            evbuffer_free(inputToFree)
            self.inputToFree = nil
        }
        inputLeft = currentInput.map { evbuffer_get_length($0) } ?? 0
        // What the handler left is deciphered already; only later bytes need it.
        if transform != nil { transformedInput = inputLeft }
        if wasLean, let bev {
            // Promoted inside the handler: what it had not read yet moved to the bufferevent,
            // which will not call back until more arrives, so it hears it now.
            if evbuffer_get_length(bufferevent_get_input(bev)) > 0 && self.handler != nil { readArrived() }
        } else if let leanInput, inputLeft == 0 {
            evbuffer_free(leanInput)
            self.leanInput = nil
        }
    }

    fileprivate func writeDrained() {
        guard bev != nil else { return }
        if closingAfterFlush {
            if pendingOutputBytes == 0 { finish(.closedLocally) }
            return
        }
        handler?.outputFlushed(self)
    }

    fileprivate func eventArrived(_ what: Int16, errno error: Int32) {
        let what = Int32(what)
        if what & BEV_EVENT_CONNECTED != 0 {
            isConnected = true
            connectTimer?.cancel()
            connectTimer = nil
            if let bev { Self.disableNagle(bufferevent_getfd(bev)) }
            handler?.connectionMade(self)
            return
        }
        if what & BEV_EVENT_EOF != 0 {
            // Deliver what arrived with the FIN before reporting the close.
            readArrived()
            finish(.peerClosed)
        } else if what & BEV_EVENT_TIMEOUT != 0 {
            finish(.timedOut)
        } else if what & BEV_EVENT_ERROR != 0 {
            let system = SystemError(errno: error, operation: isConnected ? "socket" : "connect", path: nil)
            finish(isConnected ? .failed(system) : .connectFailed(system))
        }
    }

    /// Frees the bufferevent, tells the handler once, and drops the bufferevent's retain of self.
    func finish(_ reason: CloseReason) {
        guard isLive else { return }
        batch = Batch()
        closingAfterFlush = false
        connectTimer?.cancel()
        connectTimer = nil
        freeDirectRead()
        freeLean()
        if let bev {
            self.bev = nil
            bufferevent_setcb(bev, nil, nil, nil, nil)
            bufferevent_free(bev)  // safe inside its own callback (LIBEVENT-NOTES §2); leaves any rate group
        }
        if let configuration = rateConfiguration {
            // The bufferevent may outlive this call (deferred free); its limit goes with it first.
            rateConfiguration = nil
            loop.schedule(after: .zero) { ev_token_bucket_cfg_free(configuration) }
        }
        let handler = retainedHandler ?? self.handler
        retainedHandler = nil
        handler?.connectionClosed(self, reason: reason)
        loop.unregister(self)
    }

    /// Frees the bufferevent while the loop itself is being destroyed: no callbacks, no loop access.
    func discardWithLoop() {
        guard isLive else { return }
        batch = Batch()
        freeDirectRead()
        freeLean()
        if let bev {
            self.bev = nil
            bufferevent_setcb(bev, nil, nil, nil, nil)
            bufferevent_free(bev)
        }
        if let configuration = rateConfiguration { ev_token_bucket_cfg_free(configuration) }
        rateConfiguration = nil
        retainedHandler = nil
    }

    private func freeDirectRead() {
        guard let event = directRead else { return }
        directRead = nil
        event_free(event)  // also removes it from the loop
    }

    static func disableNagle(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}

@available(*, unavailable)
extension BufferEventConnection: Sendable {}
