import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Part of a file mapped read-only, for reading it in place: a recheck hashes straight from the
/// page cache instead of copying every byte out with `pread` first (13 % of a warm recheck's
/// time, Benchmarks/RESULTS.md).
///
/// A mapped page past the end of a file that shrank after it was mapped raises SIGBUS when read,
/// where `pread` would only return short. While a region lives, such a fault inside it is patched
/// with a page of zeros and counted (`MappedRegion.faults`) instead of killing the process: a
/// reader compares the count before and after using the bytes, and reads again with `pread` if
/// it moved. A SIGBUS anywhere else goes to the handler that was there before (the default one
/// or Swift's backtracer).
public final class MappedRegion: @unchecked Sendable {
    /// The requested bytes, inside the mapping.
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer
    private let mappedLength: Int
    private let slot: Int

    /// Maps `length` bytes of `file` from `offset` (which need not be page-aligned). The caller
    /// checks that they lie within the file's size.
    public init(_ file: ReadOnlyFile, offset: Int64, length: Int) throws(SystemError) {
        precondition(offset >= 0 && length > 0, "MappedRegion of nothing")
        FaultGuard.installOnce()
        let page = Int64(FaultGuard.pageSize)
        let start = offset / page * page
        let lead = Int(offset - start)
        let total = lead + length
        let address = mmap(nil, total, PROT_READ, MAP_SHARED, file.descriptor, off_t(start))
        guard let address, address != MAP_FAILED else {
            throw SystemError(errno: errno, operation: "mmap", path: file.path)
        }
        _ = madvise(address, total, MADV_SEQUENTIAL)
        guard let slot = FaultGuard.register(UInt(bitPattern: address), UInt(bitPattern: address) + UInt(total)) else {
            munmap(address, total)
            throw SystemError(errno: EBUSY, operation: "mmap (every fault-guard slot in use)", path: file.path)
        }
        mapping = address
        mappedLength = total
        self.slot = slot
        bytes = UnsafeRawBufferPointer(start: address + lead, count: length)
    }

    /// Whether every page is in the page cache now (`mincore`).
    public var isResident: Bool {
        let pages = (mappedLength + FaultGuard.pageSize - 1) / FaultGuard.pageSize
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: pages) { vector in
            guard mincore(mapping, mappedLength, vector.baseAddress) == 0 else { return false }
            return vector.allSatisfy { $0 & 1 != 0 }
        }
    }

    deinit {
        FaultGuard.unregister(slot)
        munmap(mapping, mappedLength)
    }

    /// Faults patched so far in this process: read it before and after using a region's bytes;
    /// if it moved, the bytes read may have been zeros standing in for a vanished page.
    public static var faults: Int { FaultGuard.faults.load(ordering: .acquiring) }
}

/// The process-wide SIGBUS handler behind `MappedRegion` and the table of mapped ranges it
/// answers for. Slots are atomics so the handler reads them without a lock.
private enum FaultGuard {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    static let slotCount = 256
    /// Start and end address of each live region (0, 0 when free).
    nonisolated(unsafe) static let starts = makeSlots()
    nonisolated(unsafe) static let ends = makeSlots()
    static let faults = Atomic<Int>(0)
    /// The handler that was installed before ours, for faults that are not ours.
    nonisolated(unsafe) static let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 1)

    static func makeSlots() -> UnsafeMutablePointer<Atomic<UInt>> {
        let slots = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: slotCount)
        for index in 0..<slotCount { (slots + index).initialize(to: Atomic<UInt>(0)) }
        return slots
    }

    private static let installed: Bool = {
        // Touch everything the handler reads so no lazy initialisation runs inside it.
        _ = (pageSize, starts, ends, previous, faults.load(ordering: .relaxed))
        previous.initialize(to: sigaction())
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { _, info, _ in FaultGuard.handle(info) }
        action.sa_flags = SA_SIGINFO | SA_NODEFER
        sigemptyset(&action.sa_mask)
        return sigaction(SIGBUS, &action, previous) == 0
    }()

    static func installOnce() { _ = installed }

    static func register(_ start: UInt, _ end: UInt) -> Int? {
        for index in 0..<slotCount {
            if starts[index].compareExchange(expected: 0, desired: start, ordering: .acquiringAndReleasing).exchanged {
                ends[index].store(end, ordering: .releasing)
                return index
            }
        }
        return nil
    }

    static func unregister(_ slot: Int) {
        ends[slot].store(0, ordering: .releasing)
        starts[slot].store(0, ordering: .releasing)
    }

    /// Runs inside the signal handler: async-signal-safe calls only (mmap, sigaction).
    static func handle(_ info: UnsafeMutablePointer<siginfo_t>?) {
        let address = UInt(bitPattern: info?.pointee._sifields._sigfault.si_addr)
        for index in 0..<slotCount {
            let start = starts[index].load(ordering: .acquiring)
            guard start != 0, address >= start, address < ends[index].load(ordering: .acquiring) else { continue }
            let page = address & ~UInt(pageSize - 1)
            let patched = mmap(
                UnsafeMutableRawPointer(bitPattern: page), pageSize, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if patched != MAP_FAILED {
                faults.add(1, ordering: .acquiringAndReleasing)
                return
            }
            break
        }
        // Not ours (or not patchable): put the previous handler back; the faulting access runs
        // again on return and reaches it.
        sigaction(SIGBUS, previous, nil)
    }
}
