import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The config directory's small files (`torrents/` and `resume/`) packed into one file at an
/// orderly stop, so the next start reads one file instead of three per torrent.
///
/// The files stay the truth: the snapshot is used only when both folders are exactly as they were
/// when it was packed (the same inode, modification and status-change times to the nanosecond:
/// every file the daemon writes there is renamed into place, and adding, removing or replacing a
/// file moves those times), and it is removed as soon as it is read, so a run that crashes
/// leaves none behind. A file edited in place while the daemon is stopped does not move its
/// folder's times: delete `snapshot` after such an edit.
struct ConfigSnapshot: Sendable {
    /// The folders packed.
    enum Folder: Int, CaseIterable, Sendable {
        case torrents = 0
        case resume = 1

        var name: String { self == .torrents ? "torrents" : "resume" }
        /// The names loading reads (a temporary file of an interrupted write, `NAME.tmp-PID`, is not one).
        func keeps(_ name: String) -> Bool {
            switch self {
            case .torrents: return name.hasSuffix(".torrent") || name.hasSuffix(".json") || name.hasSuffix(".magnet")
            case .resume: return name.hasSuffix(".resume")
            }
        }
    }

    /// What the folders looked like when packed: per folder, its inode and its times in ns.
    struct Fingerprint: Equatable, Sendable {
        var values: [Int64]

        /// The folders under `path` now; nil if one cannot be read.
        static func of(_ path: String) -> Fingerprint? {
            var values: [Int64] = []
            for folder in Folder.allCases {
                guard let status = (try? FileStatus.of(path + "/" + folder.name)) ?? nil else { return nil }
                values += [Int64(bitPattern: status.identity.inode), status.modificationNanoseconds, status.statusChangeNanoseconds]
            }
            return Fingerprint(values: values)
        }

        /// Seconds since the folders' last change.
        func age() -> Double {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let latest = stride(from: 1, to: values.count, by: 3).map { max(values[$0], values[$0 + 1]) }.max() ?? 0
            return Double(Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - latest) / 1e9
        }
    }

    static let magic = Array("evtorrent config snapshot 1\n".utf8)
    /// A box whose torrents' files add up to more is loaded from its files (the snapshot is read
    /// whole at start).
    static let maxBytes = 256 << 20

    let fingerprint: Fingerprint
    private let bytes: [UInt8]
    private let files: [[String: Range<Int>]]
    private let order: [[String]]

    /// The names packed from `folder`, in the order packed (torrents oldest first).
    func names(in folder: Folder) -> [String] { order[folder.rawValue] }

    /// Whether the folder had the file.
    func has(_ folder: Folder, _ name: String) -> Bool { files[folder.rawValue][name] != nil }

    /// A packed file's bytes; nil if the folder had no such file.
    func contents(_ folder: Folder, _ name: String) -> [UInt8]? {
        files[folder.rawValue][name].map { Array(bytes[$0]) }
    }

    /// The snapshot's bytes: the magic, the fingerprint, then each file as its folder, name and
    /// contents, lengths little-endian.
    static func encode(_ fingerprint: Fingerprint, _ packed: [(Folder, String, [UInt8])]) -> [UInt8] {
        var out = magic
        func put(_ value: UInt64, _ width: Int) { for shift in 0..<width { out.append(UInt8(truncatingIfNeeded: value >> (8 * shift))) } }
        put(UInt64(fingerprint.values.count), 1)
        for value in fingerprint.values { put(UInt64(bitPattern: value), 8) }
        put(UInt64(packed.count), 4)
        for (folder, name, contents) in packed {
            put(UInt64(folder.rawValue), 1)
            put(UInt64(name.utf8.count), 2)
            out += name.utf8
            put(UInt64(contents.count), 4)
            out += contents
        }
        return out
    }

    /// Reads what `encode` wrote; nil if the bytes are anything else or cut short.
    init?(parsing bytes: [UInt8]) {
        var position = 0
        func take(_ width: Int) -> UInt64? {
            guard bytes.count - position >= width else { return nil }
            var value: UInt64 = 0
            for index in 0..<width { value |= UInt64(bytes[position + index]) << (8 * index) }
            position += width
            return value
        }
        guard bytes.starts(with: Self.magic) else { return nil }
        position = Self.magic.count
        guard let valueCount = take(1) else { return nil }
        var values: [Int64] = []
        for _ in 0..<valueCount {
            guard let value = take(8) else { return nil }
            values.append(Int64(bitPattern: value))
        }
        guard let count = take(4), count <= bytes.count else { return nil }
        var files = [[String: Range<Int>]](repeating: [:], count: Folder.allCases.count)
        for index in files.indices { files[index].reserveCapacity(Int(count)) }
        var order = [[String]](repeating: [], count: Folder.allCases.count)
        for _ in 0..<count {
            guard let rawFolder = take(1), let folder = Folder(rawValue: Int(rawFolder)), let nameLength = take(2),
                bytes.count - position >= Int(nameLength)
            else { return nil }
            let nameBytes = bytes[position..<position + Int(nameLength)]
            guard !nameBytes.contains(UInt8(ascii: "/")) else { return nil }
            let name = String(decoding: nameBytes, as: UTF8.self)
            position += Int(nameLength)
            guard let length = take(4), bytes.count - position >= Int(length), folder.keeps(name) else { return nil }
            guard files[folder.rawValue].updateValue(position..<position + Int(length), forKey: name) == nil else { return nil }
            order[folder.rawValue].append(name)
            position += Int(length)
        }
        guard position == bytes.count else { return nil }
        fingerprint = Fingerprint(values: values)
        self.bytes = bytes
        self.files = files
        self.order = order
    }
}

/// Where loading reads the config directory's files: the snapshot when there is a current one,
/// else the folders themselves.
struct ConfigFiles: Sendable {
    let root: String
    let snapshot: ConfigSnapshot?

    /// The names in `folder` that loading reads.
    func names(in folder: ConfigSnapshot.Folder) -> [String] {
        if let snapshot { return snapshot.names(in: folder) }
        return ((try? FileContents.list(root + "/" + folder.name)) ?? []).filter(folder.keeps)
    }

    /// A file's bytes, refusing one larger than `limit`.
    func read(_ folder: ConfigSnapshot.Folder, _ name: String, limit: Int) throws(SystemError) -> [UInt8] {
        let path = "\(root)/\(folder.name)/\(name)"
        guard let snapshot else { return try FileContents.read(path, limit: limit) }
        guard let contents = snapshot.contents(folder, name) else { throw SystemError(errno: ENOENT, operation: "open", path: path) }
        guard contents.count <= limit else { throw SystemError(errno: EFBIG, operation: "read", path: path) }
        return contents
    }

    /// Whether the file is there at all (readable or not).
    func exists(_ folder: ConfigSnapshot.Folder, _ name: String) -> Bool {
        if let snapshot { return snapshot.has(folder, name) }
        return (try? FileStatus.of("\(root)/\(folder.name)/\(name)")) ?? nil != nil
    }
}

extension ConfigDirectory {
    var snapshotPath: String { path + "/snapshot" }

    /// Packs `torrents/` and `resume/` into `snapshot` (at an orderly stop, once every file is
    /// written), each torrent's files in the place its info hash has in `order` (oldest first:
    /// the next start attaches them in that order as they are parsed). Says how many files, or
    /// why none was written.
    func writeSnapshot(on pool: WorkerPool, order: [String] = []) -> Result<Int, SnapshotSkipped> {
        guard var before = ConfigSnapshot.Fingerprint.of(path) else { return .failure(.unreadable("a folder")) }
        // File times come from a clock that moves in ticks of a few milliseconds: a folder changed
        // within the current tick could change again without its times moving. Past that tick,
        // any later change shows.
        if before.age() < 0.02 {
            usleep(20_000)
            guard let settled = ConfigSnapshot.Fingerprint.of(path) else { return .failure(.unreadable("a folder")) }
            before = settled
        }
        let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: min)
        var names: [(ConfigSnapshot.Folder, String)] = []
        for folder in ConfigSnapshot.Folder.allCases {
            guard let listed = try? FileContents.list(path + "/" + folder.name) else { return .failure(.unreadable(folder.name)) }
            let kept = listed.filter(folder.keeps).map { name in (rank: rank[String(name.prefix { $0 != "." })] ?? Int.max, name: name) }
            names += kept.sorted { ($0.rank, $0.name) < ($1.rank, $1.name) }.map { (folder, $0.name) }
        }
        let root = path
        let read = pool.map(names) { folder, name in try? FileContents.read("\(root)/\(folder.name)/\(name)", limit: ConfigSnapshot.maxBytes) }
        var packed: [(ConfigSnapshot.Folder, String, [UInt8])] = []
        var total = 0
        for ((folder, name), contents) in zip(names, read) {
            guard let contents else { return .failure(.unreadable("\(folder.name)/\(name)")) }
            total += contents.count + name.utf8.count + 7
            guard total <= ConfigSnapshot.maxBytes else { return .failure(.tooLarge) }
            packed.append((folder, name, contents))
        }
        // Something wrote there meanwhile: the files are the truth, and they will be read.
        guard ConfigSnapshot.Fingerprint.of(path) == before else { return .failure(.changed) }
        do { try FileContents.writeAtomically(ConfigSnapshot.encode(before, packed), to: snapshotPath) } catch {
            return .failure(.unwritable(error))
        }
        return .success(packed.count)
    }

    /// The snapshot left by the last orderly stop, if there is one and the folders have not
    /// changed since; it is removed first, whatever it holds. `note`: why one was there but is
    /// not used.
    func takeSnapshot(note: (String) -> Void) -> ConfigSnapshot? {
        guard let bytes = try? FileContents.read(snapshotPath, limit: ConfigSnapshot.maxBytes + (1 << 20)) else {
            if (try? FileStatus.of(snapshotPath)) ?? nil != nil { note("it cannot be read") }
            return nil
        }
        do { try FileContents.remove(snapshotPath) } catch {
            note("it cannot be removed (\(error)), so a later run could take it for current")
            return nil
        }
        guard let snapshot = ConfigSnapshot(parsing: bytes) else {
            note("it is not a snapshot this version wrote")
            return nil
        }
        guard snapshot.fingerprint == ConfigSnapshot.Fingerprint.of(path) else {
            note("torrents/ or resume/ changed since it was written")
            return nil
        }
        return snapshot
    }
}

/// Why no snapshot was written at a stop (the next start reads the files, as after a crash).
enum SnapshotSkipped: Error, CustomStringConvertible {
    case unreadable(String)
    case tooLarge
    case changed
    case unwritable(SystemError)

    var description: String {
        switch self {
        case .unreadable(let what): return "\(what) could not be read"
        case .tooLarge: return "the torrents' files add up to more than \(ConfigSnapshot.maxBytes >> 20) MiB"
        case .changed: return "a file changed while they were packed"
        case .unwritable(let error): return error.description
        }
    }
}
