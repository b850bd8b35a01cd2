internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

private func leanReadable(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<BufferEventConnection>.fromOpaque(context!).takeUnretainedValue().leanRead()
}

private func leanWritable(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<BufferEventConnection>.fromOpaque(context!).takeUnretainedValue().leanWrite()
}

/// Lean mode of `BufferEventConnection` (an accepted socket without a rate limit): reading,
/// writing, becoming a bufferevent, and closing without one. See the type's comment.
extension BufferEventConnection {
    /// Watches the socket for reading (from `init(acceptedSocket:)`).
    func startLeanReading() {
        let context = Unmanaged.passUnretained(self).toOpaque()
        leanReader = event_new(loop.base, leanSocket, Int16(EV_READ | EV_PERSIST), leanReadable, context)
        event_add(leanReader, nil)
    }

    /// Lean mode: output waits, so watch for the socket taking more.
    func armWriter() {
        guard bev == nil, leanReader != nil, leanWriter == nil else { return }
        let context = Unmanaged.passUnretained(self).toOpaque()
        leanWriter = event_new(loop.base, leanSocket, Int16(EV_WRITE | EV_PERSIST), leanWritable, context)
        event_add(leanWriter, nil)
    }

    /// The socket is readable (lean): drop what is to be discarded, read the rest into the input
    /// buffer and hand it to the handler, until a read comes up short (the socket is drained),
    /// reading is paused, the input is at its limit (as a bufferevent's read watermark: the handler
    /// must take some first) or this turn's budget is spent.
    func leanRead() {
        var budget = maxSingleRead
        // A first read of 16 KiB: an idle peer's few bytes do not take a large chain for a moment.
        var step = 2 << 10
        while budget > 0, !readingPaused, let leanReader, bev == nil {
            let count: Int
            if discarding > 0 {
                count = recv(leanSocket, nil, min(discarding, budget), Int32(MSG_TRUNC | MSG_DONTWAIT))
                if count > 0 {
                    discarding -= count
                    budget -= count
                    continue
                }
            } else {
                let input = leanInput ?? { let made = evbuffer_new()!; leanInput = made; return made }()
                let room = min(inputLimit - evbuffer_get_length(input), budget, step)
                guard room > 0 else {
                    event_del(leanReader)
                    return
                }
                count = Self.read(leanSocket, into: input, room: room)
                if count > 0 {
                    budget -= count
                    let filled = count == room
                    if filled { step = budget }
                    readArrived()
                    // A short read drained the socket. What the peer sends in answer to what the
                    // handler just wrote waits for the loop's next turn: reading on here let one
                    // quick peer be served window after window while the others waited.
                    if filled { continue }
                    break
                }
            }
            if readEnded(count) { continue }
            break
        }
        if let leanInput, evbuffer_get_length(leanInput) == 0, bev == nil {
            evbuffer_free(leanInput)
            self.leanInput = nil
        }
    }

    /// Reads up to `room` bytes from `fd` into free space at the end of `input`: the count, 0 at
    /// end of stream, -1 with errno set.
    static func read(_ fd: Int32, into input: OpaquePointer, room: Int) -> Int {
        var vectors = (iovec(), iovec())
        return withUnsafeMutableBytes(of: &vectors) { raw -> Int in
            let vector = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
            let reserved = Int(evbuffer_reserve_space(input, room, vector, 2))
            guard reserved > 0 else {
                errno = ENOMEM
                return -1
            }
            var count: Int
            repeat { count = readv(fd, vector, Int32(reserved)) } while count < 0 && errno == EINTR
            guard count > 0 else { return count }
            var left = count
            for index in 0..<reserved {
                vector[index].iov_len = min(vector[index].iov_len, left)
                left -= vector[index].iov_len
            }
            evbuffer_commit_space(input, vector, Int32(reserved))
            return count
        }
    }

    /// The socket takes more (lean): write what waits; once it is all gone the writer and the
    /// buffer go too. The handler hears `outputFlushed` at or under the low watermark.
    func leanWrite() {
        guard bev == nil, leanReader != nil else { return }
        if let output = leanOutput, evbuffer_get_length(output) > 0 {
            var written: Int32
            repeat { written = evbuffer_write_atmost(output, leanSocket, maxSingleWrite) } while written < 0 && errno == EINTR
            if written < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                finish(.failed(SystemError(errno: errno, operation: "socket", path: nil)))
                return
            }
        }
        let left = leanOutput.map { evbuffer_get_length($0) } ?? 0
        if left == 0 {
            if let leanOutput { evbuffer_free(leanOutput) }
            leanOutput = nil
            if let leanWriter { event_free(leanWriter) }
            leanWriter = nil
        }
        if closingAfterFlush {
            if left == 0 { finish(.closedLocally) }
            return
        }
        if left <= lowWatermark { handler?.outputFlushed(self) }
    }

    /// Becomes a bufferevent (a rate limit needs its buckets), keeping every byte in order: what
    /// waits to be read or written moves over.
    func promote() {
        guard bev == nil, let leanReader else { return }
        guard let made = bufferevent_socket_new(loop.base, leanSocket, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else { return }
        event_free(leanReader)
        self.leanReader = nil
        if let leanWriter { event_free(leanWriter) }
        leanWriter = nil
        if let leanInput {
            let input = bufferevent_get_input(made)!
            // A socket bufferevent keeps its input's tail frozen to everyone but itself.
            evbuffer_unfreeze(input, 0)
            evbuffer_add_buffer(input, leanInput)
            evbuffer_freeze(input, 0)
            if delivering { inputToFree = leanInput } else { evbuffer_free(leanInput) }
            self.leanInput = nil
            inputLeft = evbuffer_get_length(input)
            if transform != nil { transformedInput = inputLeft }
        }
        if let leanOutput {
            evbuffer_add_buffer(bufferevent_get_output(made), leanOutput)
            evbuffer_free(leanOutput)
            self.leanOutput = nil
        }
        bev = made
        configure(made)
        bufferevent_enable(made, Int16(readingPaused || closingAfterFlush ? EV_WRITE : EV_READ | EV_WRITE))
        if discarding > 0 {
            // Discarding goes on through the direct reader, as for a bufferevent.
            let pending = discarding
            discarding = 0
            discardInput(pending)
        }
    }

    /// Frees lean mode's events and buffers (the input later if the handler is reading it) and
    /// closes the socket.
    func freeLean() {
        guard let leanReader else { return }
        event_free(leanReader)
        self.leanReader = nil
        if let leanWriter { event_free(leanWriter) }
        leanWriter = nil
        if let leanOutput { evbuffer_free(leanOutput) }
        leanOutput = nil
        if let leanInput {
            if delivering { inputToFree = leanInput } else { evbuffer_free(leanInput) }
        }
        leanInput = nil
        Glibc.close(leanSocket)
        leanSocket = -1
    }
}
