/// How a recheck lane takes file parts that are in the page cache: from a mapping, or copied out
/// with `pread`. Whichever cost less per byte in the lane's recent runs, trying the other every
/// `probeEvery` runs so a change is noticed.
///
/// Neither is always cheaper. A mapping of 2 MiB page-cache folios (what readahead leaves) is
/// mapped whole, and hashing from it ran within 3 % of hashing from memory, where `pread`'s copy
/// cost 8 %. A mapping of 4 KiB pages (what small writes leave) sets up and tears down an entry
/// per page: verify ran 1.33× the floor from mappings where a `pread` harness ran 1.11×
/// (Benchmarks/RESULTS.md, "Recheck: the page cache's folios decide"). Userspace cannot see the
/// folio size, so the lane measures. A lane's first run is not counted: it was 5–10 % slower than
/// the next ones by either method, and taken as mapping's cost it kept a lane reading for half a
/// 1 GiB recheck. Pure: the caller times the runs.
struct ReadMethodChoice {
    /// Runs between tries of the method not in favour.
    static let probeEvery = 16
    /// Nanoseconds per byte, smoothed, for mapped and for read runs (nil until one is timed).
    private(set) var mappedCost: Double?
    private(set) var readCost: Double?
    private var runs = 0
    private var recorded = 0

    /// Whether the next run should map its resident parts (else read them).
    mutating func nextMaps() -> Bool {
        runs += 1
        guard let mappedCost else { return true }
        guard let readCost else { return false }
        let mapIsCheaper = mappedCost <= readCost
        return runs % Self.probeEvery == 0 ? !mapIsCheaper : mapIsCheaper
    }

    /// Records a run whose parts were all in the page cache: `bytes` hashed in `nanoseconds`,
    /// mapped or read.
    mutating func record(mapped: Bool, bytes: Int, nanoseconds: Int64) {
        guard bytes > 0, nanoseconds > 0 else { return }
        recorded += 1
        guard recorded > 1 else { return }
        let sample = Double(nanoseconds) / Double(bytes)
        if mapped {
            mappedCost = mappedCost.map { ($0 + sample) / 2 } ?? sample
        } else {
            readCost = readCost.map { ($0 + sample) / 2 } ?? sample
        }
    }
}
