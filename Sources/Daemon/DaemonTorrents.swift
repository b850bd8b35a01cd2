import Client
import Reactor

/// One torrent as the daemon knows it: the engine's torrent plus what the RPC shows and the
/// config directory keeps (its id, where its data goes, when it was added).
final class DaemonTorrent {
    /// The RPC's number for it: assigned in order, never reused while the daemon runs.
    let id: Int
    /// The engine's torrent (replaced when its data moves).
    var torrent: Torrent
    var downloadDirectory: String
    let addedDate: Int64
    var labels: [String]
    /// What went wrong last that the user should know (a failed move).
    var error: String?
    /// Its files' paths relative to the download directory once one was renamed (nil: the
    /// torrent's own names).
    var names: [String]?
    /// What `torrent-set` changed: its own limits, seeding modes, files wanted and priorities.
    /// Kept in a box only when not the defaults: most of ten thousand torrents are never set, and
    /// pay 8 bytes for it, not 120.
    var settings: TorrentSettings {
        _read {
            if let changedSettings { yield changedSettings.value } else { yield Self.defaultSettings }
        }
        set { changedSettings = newValue == Self.defaultSettings ? nil : Box(newValue) }
    }
    private var changedSettings: Box<TorrentSettings>?
    private static let defaultSettings = TorrentSettings()
    /// Its place in the queue (0 first).
    var queuePosition: Int {
        get { Int(position) }
        set { position = Int32(clamping: newValue) }
    }
    // The place and the flags last and together, in four bytes and one each: between the fields
    // they padded each to eight, and the record took a larger size class.
    private var position: Int32 = 0
    /// Its data is being moved (`torrent-set-location`).
    var isMoving = false
    /// Stopped by the download queue, waiting for a place (not by the user: it is not paused).
    var isQueued = false
    /// Started with `torrent-start-now`: the queue leaves it running.
    var startedNow = false

    /// The name shown: the torrent's, or what its top folder or file was renamed to.
    var name: String {
        guard let first = names?.first else { return torrent.metainfo.info.name }
        return String(first.split(separator: "/").first ?? Substring(first))
    }

    init(id: Int, torrent: Torrent, downloadDirectory: String, addedDate: Int64, labels: [String]) {
        self.id = id
        self.torrent = torrent
        self.downloadDirectory = downloadDirectory
        self.addedDate = addedDate
        self.labels = labels
    }

    var infoHash: InfoHash { torrent.metainfo.infoHash }
}

/// The config directory's torrents: `torrents/<infohash>.torrent` (the file as added) and
/// `torrents/<infohash>.json` (download dir, added date, paused, labels), resume files in
/// `resume/`. Every write is atomic; a torrent whose files cannot be read is skipped with a warning
/// and the others load.
struct ConfigDirectory: Sendable {
    let path: String
    var torrents: String { path + "/torrents" }
    /// Made once: every torrent's options hold it, so they share its path.
    let resume: ResumeStore
    var settings: String { path + "/settings.json" }

    init(path: String) {
        self.path = path
        resume = ResumeStore(directory: path + "/resume")
    }

    /// Creates the directories.
    func prepare() throws(DaemonError) {
        do {
            try FileContents.makeDirectories(torrents)
            try FileContents.makeDirectories(path + "/resume")
        } catch { throw .configDirectory(path, error) }
    }

    /// What is kept of a torrent besides its .torrent.
    struct Record: Sendable {
        var downloadDirectory: String
        var addedDate: Int64
        var paused: Bool
        var labels: [String]
        /// Where its data is being moved to; set before the first file moves and cleared once
        /// all are there, so a restart after a crash finishes the move.
        var moveTo: String?
        /// Its files' relative paths once renamed (`torrent-rename-path`).
        var names: [String]?
        var settings = TorrentSettings()
        /// Its place in the queue (`queue-move-*`), nil in records written before it was kept.
        var queuePosition: Int?

        var json: JSON {
            var members: [(String, JSON)] = [
                ("download-dir", .string(downloadDirectory)), ("added-date", .integer(addedDate)), ("paused", .bool(paused)),
                ("labels", .array(labels.map(JSON.string))),
            ]
            if let moveTo { members.append(("move-to", .string(moveTo))) }
            if let names { members.append(("file-names", .array(names.map(JSON.string)))) }
            if settings != TorrentSettings() { members.append(("settings", settings.json)) }
            if let queuePosition { members.append(("queue-position", .integer(Int64(queuePosition)))) }
            return .object(members)
        }

        init(downloadDirectory: String, addedDate: Int64, paused: Bool, labels: [String]) {
            self.downloadDirectory = downloadDirectory
            self.addedDate = addedDate
            self.paused = paused
            self.labels = labels
        }

        init?(json: JSON) {
            guard let directory = json["download-dir"]?.stringValue else { return nil }
            downloadDirectory = directory
            addedDate = json["added-date"]?.integerValue ?? 0
            paused = json["paused"]?.boolValue ?? false
            labels = json["labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
            moveTo = json["move-to"]?.stringValue
            names = json["file-names"]?.arrayValue?.compactMap(\.stringValue)
            settings = json["settings"].map(TorrentSettings.init(json:)) ?? TorrentSettings()
            queuePosition = json["queue-position"]?.integerValue.map { Int(clamping: $0) }
        }
    }

    func save(_ metainfoBytes: [UInt8], _ record: Record, for infoHash: InfoHash) throws(SystemError) {
        try FileContents.writeAtomically(metainfoBytes, to: "\(torrents)/\(infoHash.hex).torrent")
        try saveRecord(record, for: infoHash)
    }

    func saveRecord(_ record: Record, for infoHash: InfoHash) throws(SystemError) {
        try FileContents.writeAtomically(record.json.encoded(), to: "\(torrents)/\(infoHash.hex).json")
    }

    /// Deletes a torrent's files here (not its data).
    func forget(_ infoHash: InfoHash) {
        for suffix in [".torrent", ".json"] { try? FileContents.remove("\(torrents)/\(infoHash.hex)\(suffix)") }
        try? FileContents.remove("\(path)/resume/\(infoHash.hex).resume")
    }

    /// One torrent kept here as loaded, with what its resume file is worth and where its data is.
    struct Stored: Sendable {
        let metainfo: Metainfo
        let record: Record
        /// Nil while a move is unfinished: the torrent is judged once its files are in place.
        let verdict: ResumeStore.Verdict?
        let location: ContentLocation
    }

    /// Every torrent kept here, oldest first, handed to `each` as it is read from `files` (the
    /// folders, or the snapshot of them) and parsed on `pool`'s threads together with what its
    /// resume file is worth (from the folders, that is three small files and a stat of each data
    /// file per torrent: 10,000 torrents take two cores' worth of system calls). A snapshot's
    /// torrents are in order already, so each is handed over while the pool parses the next;
    /// the folders' are sorted once all are read. Unreadable ones are reported through `skipped`.
    /// `found` hears how many there are before the first is handed over.
    func load(
        _ files: ConfigFiles, on pool: WorkerPool, sharing: SharedValues, found: (Int) -> Void, skipped: (String, String) -> Void,
        each: (Stored) -> Void
    ) {
        let names = files.names(in: .torrents).filter { $0.hasSuffix(".torrent") }
        found(names.count)
        var kept: [Stored] = []
        pool.map(names, { name in (name, Self.loadOne(name, from: files, sharing: sharing)) }) { name, loaded in
            switch loaded {
            case .success(let stored) where files.snapshot != nil: each(stored)
            case .success(let stored): kept.append(stored)
            case .failure(let reason): skipped(name, reason.text)
            }
        }
        for stored in kept.sorted(by: { $0.record.addedDate < $1.record.addedDate }) { each(stored) }
    }

    /// Why a torrent kept here was skipped.
    struct Unloadable: Error {
        let text: String
    }

    private static func loadOne(_ name: String, from files: ConfigFiles, sharing: SharedValues) -> Result<Stored, Unloadable> {
        let base = String(name.dropLast(".torrent".count))
        let bytes: [UInt8]
        do { bytes = try files.read(.torrents, name, limit: MetainfoLoader.maxTorrentFileBytes) } catch {
            return .failure(Unloadable(text: error.description))
        }
        let metainfo: Metainfo
        do { metainfo = try MetainfoLoader.parse(bytes, path: "\(files.root)/torrents/\(name)", sharingTiers: sharing.tiers) } catch {
            return .failure(Unloadable(text: error.description))
        }
        guard var record = (try? files.read(.torrents, base + ".json", limit: 1 << 20)).flatMap({ try? JSON(parsing: $0) }).flatMap(Record.init(json:))
        else { return .failure(Unloadable(text: "its record \(base).json is missing or broken")) }
        record.downloadDirectory = sharing.string(record.downloadDirectory)
        let location = ContentLocation(metainfo: metainfo, directory: record.downloadDirectory, names: record.names)
        // A torrent whose move was interrupted is not judged until the move is finished.
        guard record.moveTo == nil else { return .success(Stored(metainfo: metainfo, record: record, verdict: nil, location: location)) }
        let verdict = ResumeStore.verdict(metainfo, location: location) { () throws(SystemError) in
            try files.read(.resume, base + ".resume", limit: ResumeStore.maxResumeBytes)
        }
        return .success(Stored(metainfo: metainfo, record: record, verdict: verdict, location: location))
    }
}

/// What `torrent-set` changes of one torrent beyond labels, kept in its record. Limits are in
/// kB/s (1000 bytes) as the RPC gives them; modes as Transmission's: 0 follow the session, 1 this
/// torrent's own limit, 2 unlimited.
struct TorrentSettings: Equatable, Sendable {
    var uploadLimit = 100
    var uploadLimited = false
    var downloadLimit = 100
    var downloadLimited = false
    /// Peers at most (nil: the session's per-torrent limit).
    var peerLimit: Int?
    var bandwidthPriority = 0
    var honorsSessionLimits = true
    var seedRatioMode = 0
    var seedRatioLimit = 2.0
    var seedIdleMode = 0
    /// Minutes.
    var seedIdleLimit = 30
    /// Per file: wanted or not (nil: all).
    var wanted: [Bool]?
    /// Per file: -1 low, 0 normal, 1 high (nil: all normal).
    var priorities: [Int]?

    init() {}

    var json: JSON {
        var members: [(String, JSON)] = [
            ("upload-limit", .integer(Int64(uploadLimit))), ("upload-limited", .bool(uploadLimited)),
            ("download-limit", .integer(Int64(downloadLimit))), ("download-limited", .bool(downloadLimited)),
            ("bandwidth-priority", .integer(Int64(bandwidthPriority))), ("honors-session-limits", .bool(honorsSessionLimits)),
            ("seed-ratio-mode", .integer(Int64(seedRatioMode))), ("seed-ratio-limit", .double(seedRatioLimit)),
            ("seed-idle-mode", .integer(Int64(seedIdleMode))), ("seed-idle-limit", .integer(Int64(seedIdleLimit))),
        ]
        if let peerLimit { members.append(("peer-limit", .integer(Int64(peerLimit)))) }
        if let wanted { members.append(("wanted", .array(wanted.map(JSON.bool)))) }
        if let priorities { members.append(("priorities", .array(priorities.map { .integer(Int64($0)) }))) }
        return .object(members)
    }

    init(json: JSON) {
        func int(_ key: String, _ fallback: Int) -> Int { json[key]?.integerValue.map { Int(clamping: $0) } ?? fallback }
        uploadLimit = int("upload-limit", uploadLimit)
        uploadLimited = json["upload-limited"]?.boolValue ?? false
        downloadLimit = int("download-limit", downloadLimit)
        downloadLimited = json["download-limited"]?.boolValue ?? false
        peerLimit = json["peer-limit"]?.integerValue.map { Int(clamping: $0) }
        bandwidthPriority = int("bandwidth-priority", 0)
        honorsSessionLimits = json["honors-session-limits"]?.boolValue ?? true
        seedRatioMode = int("seed-ratio-mode", 0)
        seedRatioLimit = json["seed-ratio-limit"]?.doubleValue ?? 2
        seedIdleMode = int("seed-idle-mode", 0)
        seedIdleLimit = int("seed-idle-limit", 30)
        wanted = json["wanted"]?.arrayValue?.compactMap(\.boolValue)
        priorities = json["priorities"]?.arrayValue?.compactMap { $0.integerValue.map { Int(clamping: $0) } }
    }

    /// Piece priorities for the engine from the files' (0 skips; low 1, normal 2, high 3; a piece
    /// shared by files takes the highest); nil when every file is wanted at normal priority.
    func piecePriorities(_ info: TorrentInfo) -> [UInt8]? {
        let fileCount = info.files.count
        let wanted = self.wanted?.count == fileCount ? self.wanted : nil
        let priorities = self.priorities?.count == fileCount ? self.priorities : nil
        guard wanted?.contains(false) == true || priorities?.contains(where: { $0 != 0 }) == true else { return nil }
        var pieces = [UInt8](repeating: 0, count: info.pieceCount)
        for index in 0..<fileCount where (wanted?[index] ?? true) && !info.files[index].isPadding {
            let level = UInt8(2 + max(-1, min(1, priorities?[index] ?? 0)))
            guard let range = info.layout.pieces(of: FileIndex(index)) else { continue }
            for piece in range where pieces[piece.value] < level { pieces[piece.value] = level }
        }
        return pieces
    }
}
