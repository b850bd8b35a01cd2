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
    /// Its data is being moved (`torrent-set-location`).
    var isMoving = false
    /// What went wrong last that the user should know (a failed move).
    var error: String?
    /// Its files' paths relative to the download directory once one was renamed (nil: the
    /// torrent's own names).
    var names: [String]?

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
struct ConfigDirectory {
    let path: String
    var torrents: String { path + "/torrents" }
    var resume: ResumeStore { ResumeStore(directory: path + "/resume") }
    var settings: String { path + "/settings.json" }

    /// Creates the directories.
    func prepare() throws(DaemonError) {
        do {
            try FileContents.makeDirectories(torrents)
            try FileContents.makeDirectories(path + "/resume")
        } catch { throw .configDirectory(path, error) }
    }

    /// What is kept of a torrent besides its .torrent.
    struct Record {
        var downloadDirectory: String
        var addedDate: Int64
        var paused: Bool
        var labels: [String]
        /// Where its data is being moved to; set before the first file moves and cleared once
        /// all are there, so a restart after a crash finishes the move.
        var moveTo: String?
        /// Its files' relative paths once renamed (`torrent-rename-path`).
        var names: [String]?

        var json: JSON {
            var members: [(String, JSON)] = [
                ("download-dir", .string(downloadDirectory)), ("added-date", .integer(addedDate)), ("paused", .bool(paused)),
                ("labels", .array(labels.map(JSON.string))),
            ]
            if let moveTo { members.append(("move-to", .string(moveTo))) }
            if let names { members.append(("file-names", .array(names.map(JSON.string)))) }
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

    /// Every torrent kept here, oldest first; unreadable ones are reported through `skipped`.
    func load(skipped: (String, String) -> Void) -> [(Metainfo, Record)] {
        let names = (try? FileContents.list(torrents)) ?? []
        var loaded: [(Metainfo, Record)] = []
        for name in names where name.hasSuffix(".torrent") {
            let base = String(name.dropLast(".torrent".count))
            do {
                let metainfo = try MetainfoLoader.load("\(torrents)/\(name)")
                let recordBytes = try? FileContents.read("\(torrents)/\(base).json", limit: 1 << 20)
                guard let record = recordBytes.flatMap({ try? JSON(parsing: $0) }).flatMap(Record.init(json:)) else {
                    skipped(name, "its record \(base).json is missing or broken")
                    continue
                }
                loaded.append((metainfo, record))
            } catch {
                skipped(name, error.description)
            }
        }
        return loaded.sorted { $0.1.addedDate < $1.1.addedDate }
    }
}
