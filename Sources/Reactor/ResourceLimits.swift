internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

/// Process limits that decide how many peers the reactor can hold.
public enum ResourceLimits {
    /// Raises the soft limit on open descriptors to the hard limit and returns the new soft limit:
    /// roughly the number of connections (plus files) the process can hold.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}

extension ResourceLimits {
    /// Keeps freed memory in the process instead of returning it to the kernel at every dip.
    ///
    /// Output buffers grow and shrink by megabytes each time a socket drains; with glibc's default
    /// 128 KiB trim threshold the heap was given back and faulted in again on every cycle (1,700
    /// `brk` calls per GiB sent, 2.2 CPU s/GiB in Benchmarks/payload). 32 MiB covers that churn;
    /// 256 MiB kept up to 300 MiB of freed heap resident after a few 200-peer bench runs.
    /// Call once at start-up.
    public static func tuneAllocator() {
        _ = mallopt(M_TRIM_THRESHOLD, 32 << 20)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
    }

    /// Returns free heap pages to the kernel (glibc `malloc_trim`). The raised trim threshold keeps
    /// the hot path from faulting memory in and out; this, run now and then from a timer, keeps
    /// freed buffers of departed peers from staying resident.
    public static func releaseFreeMemory() { _ = malloc_trim(0) }
}
