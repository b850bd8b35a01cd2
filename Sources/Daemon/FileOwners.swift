/// Which torrent owns each data file, to refuse a torrent that would write another's.
///
/// Kept by the path's 64-bit hash, not the path: a daemon keeps no path strings for its ten
/// thousand torrents (their locations spell paths when asked). Two different paths with one hash
/// (about one chance in 10^15 for a box of 10,000 files) read as a collision: the torrent is
/// refused with the other's name, never let to write over it.
struct FileOwners {
    private var owners: [Int: Int] = [:]

    /// Room for `count` files without growing.
    mutating func reserveCapacity(_ count: Int) { owners.reserveCapacity(count) }

    /// The torrent owning `path`, if any.
    func owner(of path: String) -> Int? { owners[path.hashValue] }

    /// `path` is torrent `id`'s from now on.
    mutating func claim(_ path: String, for id: Int) { owners[path.hashValue] = id }

    /// `path` is no longer torrent `id`'s (another owner keeps it).
    mutating func release(_ path: String, from id: Int) {
        let key = path.hashValue
        if owners[key] == id { owners.removeValue(forKey: key) }
    }

    /// How many paths have an owner.
    var count: Int { owners.count }
}
