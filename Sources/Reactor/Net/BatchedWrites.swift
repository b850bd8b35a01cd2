internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

/// Batched writes of `BufferEventConnection` (DESIGN §2): between `beginBatch` and `endBatch`,
/// while nothing else waits to go out, blocks of mapped files are gathered and handed to the
/// kernel in one `writev`; what the socket does not take goes to the output buffer.
extension BufferEventConnection {
    /// Writes gathered between `beginBatch` and `endBatch`: headers copied side by side, blocks
    /// as places in their files' mappings (the files kept open until the writev).
    struct Batch {
        var on = false
        var headers: [UInt8] = []
        var items: [Item] = []
        /// Keeps the items' files alive (open and mapped) until the writev: each file once per run
        /// of blocks from it, not a retain and release per block.
        var files: [OpenFile] = []
        var bytes = 0

        /// A header's end in `headers`, and a block: plain values, so the list is freed without
        /// visiting each item.
        struct Item {
            var headerEnd: Int
            unowned(unsafe) var file: OpenFile
            var offset: Int64
            var length: Int
            /// Where the block sits in the file's mapping.
            var mapped: UnsafeRawPointer
        }

        mutating func append(header: [UInt8], file: OpenFile, offset: Int64, length: Int, mapped: UnsafeRawPointer) {
            headers.append(contentsOf: header)
            if files.last !== file { files.append(file) }
            items.append(Item(headerEnd: headers.count, file: file, offset: offset, length: length, mapped: mapped))
            bytes += header.count + length
        }
    }
    /// Headers and blocks in one writev at most (IOV_MAX is 1,024).
    static let batchItems = 256

    func beginBatch() {
        guard isLive, !batch.on, transform == nil, !rateLimited, !closingAfterFlush, pendingOutputBytes == 0 else { return }
        batch.on = true
    }

    func endBatch() {
        guard batch.on else { return }
        batch.on = false
        // The arrays are let go, not kept: 18,000 served peers would each hold up to 16 KiB.
        defer { batch = Batch() }
        guard isLive, !batch.items.isEmpty else { return }
        let fd = bev.map { bufferevent_getfd($0) } ?? leanSocket
        // One writev for everything gathered; what the socket does not take (it is full, or it
        // failed: libevent meets the error on its own write) goes to the output buffer as usual.
        var sent = batch.headers.withUnsafeBytes { headers -> Int in
            withUnsafeTemporaryAllocation(of: iovec.self, capacity: batch.items.count * 2) { vectors in
                var count = 0, start = 0
                for item in batch.items {
                    if item.headerEnd > start {
                        vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: headers.baseAddress! + start), iov_len: item.headerEnd - start)
                        count += 1
                    }
                    vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: item.mapped), iov_len: item.length)
                    count += 1
                    start = item.headerEnd
                }
                var written: Int
                repeat { written = writev(fd, vectors.baseAddress, Int32(count)) } while written < 0 && errno == EINTR
                return max(written, 0)
            }
        }
        guard sent < batch.bytes else { return }
        let output = outputBuffer()
        defer { armWriter() }
        var start = 0
        for item in batch.items {
            let headerCount = item.headerEnd - start
            if sent < headerCount {
                batch.headers[(start + sent)..<item.headerEnd].withUnsafeBytes { _ = Self.appendSmall($0, to: output) }
            }
            let skip = max(0, sent - headerCount)
            if skip < item.length {
                _ = item.file.append(offset: item.offset + Int64(skip), length: item.length - skip, to: output)
            }
            sent = max(0, sent - headerCount - item.length)
            start = item.headerEnd
        }
    }
}
