internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

/// How file data gets into a connection's output (DESIGN §2; chosen by Benchmarks/payload).
public enum PayloadMode: String, Sendable, CaseIterable {
    /// `pread` straight into space reserved in the output evbuffer: one copy in user space.
    case copy
    /// The file is mapped once; each block is added as a reference into the mapping, so the only
    /// copy is the kernel's, inside `writev`, and one `writev` carries many blocks.
    case mappedReference
    /// `sendfile` through a libevent file segment: no user-space copy, but one syscall per block.
    case fileSegment
}

private func releaseOpenFile(_ data: UnsafeRawPointer?, _ length: Int, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<OpenFile>.fromOpaque(context!).release()
}

/// A file opened for serving blocks. Every block read from it shares this object; it closes the
/// descriptor and drops the mapping once the last queued block has been sent.
public final class OpenFile: @unchecked Sendable {
    // Immutable after init, except the residency memory that only the loop thread touches, so
    // sharing with the disk pool (`prefetch`) is safe.
    private let descriptor: Int32
    private let mapping: UnsafeMutableRawPointer?
    private let segment: OpaquePointer?
    /// The path opened.
    public let path: String
    /// The size when opened.
    public let size: Int64
    /// How blocks of this file are queued.
    public let mode: PayloadMode
    /// Residency memory for `isResident`: touched on the loop thread only.
    /// One bit per chunk seen resident (a bitmap, not a set: no hashing per block served), made
    /// at the first check.
    private var residentChunks: [UInt64] = []
    private var residencyCheckedAt = ContinuousClock.now
    private var clockSkips = 0

    /// Opens `path` for serving in `mode`.
    public init(path: String, mode: PayloadMode) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "open", path: path) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            Glibc.close(fd)
            throw SystemError(errno: error, operation: "stat", path: path)
        }
        descriptor = fd
        self.path = path
        self.size = Int64(info.st_size)
        self.mode = mode
        var mapped: UnsafeMutableRawPointer?
        var madeSegment: OpaquePointer?
        switch mode {
        case .copy:
            break
        case .mappedReference where size > 0:
            let address = mmap(nil, Int(size), PROT_READ, MAP_SHARED, fd, 0)
            if address == MAP_FAILED {
                let error = errno
                Glibc.close(fd)
                throw SystemError(errno: error, operation: "mmap", path: path)
            }
            mapped = address
        case .mappedReference:
            break
        case .fileSegment:
            // The segment borrows the descriptor (no CLOSE_ON_FREE); this object closes it.
            madeSegment = evbuffer_file_segment_new(fd, 0, Int64(size), 0)
        }
        mapping = mapped
        segment = madeSegment
    }

    deinit {
        if let segment { evbuffer_file_segment_free(segment) }
        if let mapping { munmap(mapping, Int(size)) }
        close(descriptor)
    }

    /// Whether bytes `offset..<offset+length` are in the page cache, so queueing them will not block
    /// the loop on a disk read (DESIGN §2). Answers by `mincore` on the mapping, or by a non-blocking
    /// one-byte `preadv2` per page otherwise.
    ///
    /// With a mapping, a whole 256 KiB chunk is checked at once and remembered as resident for a
    /// second, so the 16 blocks of a piece cost one `mincore` rather than 16 (10 % of a busy
    /// seeder's CPU). A page evicted within that second is read by the kernel inside `writev`,
    /// briefly blocking the loop: the price of not asking per block. Loop thread only.
    public func isResident(offset: Int64, length: Int) -> Bool {
        guard offset >= 0, length > 0, offset + Int64(length) <= size else { return length == 0 }
        guard let mapping else { return isResidentByRead(offset: offset, length: length) }
        // The clock is read every 64 calls, not for each block (a clock read per block was 1 %
        // of a busy seeder's CPU); what is remembered is forgotten a little after a second.
        clockSkips += 1
        if clockSkips >= 64 {
            clockSkips = 0
            let now = ContinuousClock.now
            if now - residencyCheckedAt > Self.residencyMemory {
                for index in residentChunks.indices { residentChunks[index] = 0 }
                residencyCheckedAt = now
            }
        }
        let first = Int(offset / Self.residencyChunk)
        let last = Int((offset + Int64(length) - 1) / Self.residencyChunk)
        if residentChunks.isEmpty {
            residentChunks = [UInt64](repeating: 0, count: Int((size + Self.residencyChunk - 1) / Self.residencyChunk + 63) / 64)
        }
        for chunk in first...last where residentChunks[chunk >> 6] & (1 << (chunk & 63)) == 0 {
            let start = Int64(chunk) * Self.residencyChunk
            if Self.allResident(mapping, from: start, to: min(start + Self.residencyChunk, size)) {
                residentChunks[chunk >> 6] |= 1 << (chunk & 63)
            } else if !Self.allResident(mapping, from: max(start, offset), to: min(start + Self.residencyChunk, offset + Int64(length))) {
                return false
            }
        }
        return true
    }

    /// Forgets which chunks were seen resident (after evicting pages, say).
    public func forgetResidency() { residentChunks = [] }

    /// Where the `length` bytes at `offset` sit in the mapping, in the mapped-reference mode
    /// (nil in the others, or out of the file as opened): a batched write hands them to the
    /// kernel from there.
    func mapped(offset: Int64, length: Int) -> UnsafeRawPointer? {
        guard let mapping, offset >= 0, length > 0, offset + Int64(length) <= size else { return nil }
        return UnsafeRawPointer(mapping + Int(offset))
    }

    private static let residencyChunk: Int64 = 256 << 10
    private static let residencyMemory = Duration.seconds(1)
    private static let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))

    private static func allResident(_ mapping: UnsafeMutableRawPointer, from start: Int64, to end: Int64) -> Bool {
        let first = start / pageSize * pageSize
        let pages = Int((end - first + pageSize - 1) / pageSize)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: pages) { vector in
            guard mincore(mapping + Int(first), Int(end - first), vector.baseAddress!) == 0 else { return false }
            return vector.allSatisfy { $0 & 1 != 0 }
        }
    }

    private func isResidentByRead(offset: Int64, length: Int) -> Bool {
        let page = Self.pageSize
        var byte: UInt8 = 0
        var position = offset / page * page
        while position < offset + Int64(length) {
            // 0 is the end of the file: it shrank since it was opened.
            if evtorrent_pread_nowait(descriptor, &byte, 1, off_t(max(position, offset))) <= 0 { return false }
            position += page
        }
        return true
    }

    /// Brings the range into the page cache with a blocking read; for the disk pool, never the loop.
    /// False if the file no longer holds the whole range (it shrank under us) or the read failed.
    @discardableResult
    public func prefetch(offset: Int64, length: Int) -> Bool {
        let chunk = 256 << 10
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var done = 0
        while done < length {
            let count = min(chunk, length - done)
            guard readFully(offset: offset + Int64(done), length: count, into: buffer) else { return false }
            done += count
        }
        return true
    }

    /// Copies `length` bytes at `offset` to `target` with `pread` (never through the mapping: a file
    /// truncated under us gives a short read here, where a mapped copy would raise SIGBUS). False if
    /// the range is past the end of the file as opened or the read fell short.
    fileprivate func read(offset: Int64, length: Int, into target: UnsafeMutableRawPointer) -> Bool {
        guard offset >= 0, length >= 0, offset + Int64(length) <= size else { return false }
        return readFully(offset: offset, length: length, into: target)
    }

    /// `pread` until `length` bytes are in (retrying on EINTR); false on an error or the file's end.
    private func readFully(offset: Int64, length: Int, into target: UnsafeMutableRawPointer) -> Bool {
        var done = 0
        while done < length {
            let count = pread(descriptor, target + done, length - done, off_t(offset) + off_t(done))
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            done += count
        }
        return true
    }

    /// Appends `length` bytes at `offset` to an evbuffer, by this file's mode. Returns false if the
    /// range is past the end of the file or the read failed.
    func append(offset: Int64, length: Int, to buffer: OpaquePointer) -> Bool {
        guard offset >= 0, length >= 0, offset + Int64(length) <= size else { return false }
        switch mode {
        case .copy:
            var vector = iovec()
            guard evbuffer_reserve_space(buffer, length, &vector, 1) == 1 else { return false }
            guard read(offset: offset, length: length, into: vector.iov_base!) else { return false }
            vector.iov_len = length
            return evbuffer_commit_space(buffer, &vector, 1) == 0
        case .mappedReference:
            guard let mapping else { return length == 0 }
            // Each reference holds a retain of this file, released when libevent is done with it.
            let retained = Unmanaged.passRetained(self).toOpaque()
            return evbuffer_add_reference(buffer, mapping + Int(offset), length, releaseOpenFile, retained) == 0
        case .fileSegment:
            guard let segment else { return false }
            return evbuffer_add_file_segment(buffer, segment, Int64(offset), Int64(length)) == 0
        }
    }
}

/// A range of a file to send as one block's payload.
public struct FileBlock: Sendable {
    /// The file.
    public let file: OpenFile
    /// Where the block starts in the file.
    public let offset: Int64
    /// How many bytes.
    public let length: Int

    /// The `length` bytes at `offset` in `file`.
    public init(file: OpenFile, offset: Int64, length: Int) {
        self.file = file
        self.offset = offset
        self.length = length
    }

    /// Whether the whole range lies within the file as opened.
    public var isWithinFile: Bool { offset >= 0 && length >= 0 && offset + Int64(length) <= file.size }

    /// The block's bytes, read with `pread` (for fakes and tests; the payload path never copies this way).
    public func readBytes() throws(SystemError) -> [UInt8] {
        let reader = try ReadOnlyFile(path: file.path)
        var bytes = [UInt8](repeating: 0, count: length)
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(SystemError) -> Int in try reader.read(into: buffer, at: offset) }
        }
        bytes.removeLast(length - (try result.get()))
        return bytes
    }

    func append(to buffer: OpaquePointer) -> Bool { file.append(offset: offset, length: length, to: buffer) }

    /// Copies the block's bytes to `target` (for a connection that ciphers what it sends).
    func read(into target: UnsafeMutableRawPointer) -> Bool { file.read(offset: offset, length: length, into: target) }
}
