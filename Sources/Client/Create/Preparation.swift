import Reactor
import TorrentCore

/// What `evtorrent seed` serves: the torrent, where its data is, and which pieces verified.
public struct PreparedSeed: Sendable {
    public let metainfo: Metainfo
    public let torrentPath: String
    public let location: ContentLocation
    public let have: Bitfield
    /// How the pieces were established: "created", "resume" or "verified".
    public let how: String
}

/// Gets a torrent ready to run. To seed: make it for a directory (or reuse the .torrent already
/// made for it), or load a given .torrent; then trust resume data if no file changed, else verify.
/// To download: see `prepare(_:into:only:skip:)` (DownloadPreparation.swift).
public struct Preparation {
    public let pool: WorkerPool
    public let resume: ResumeStore
    /// Progress callback for hashing: (bytes done, bytes total, what is happening).
    public var progress: (Int64, Int64, String) -> Void = { _, _, _ in }

    /// A preparation hashing on `pool` and keeping resume data in `resume`.
    public init(pool: WorkerPool, resume: ResumeStore) {
        self.pool = pool
        self.resume = resume
    }

    /// Runs `body` with a preparation hashing on one thread per core, stopping the threads after.
    public static func run<T>(resume: ResumeStore, _ body: (inout Preparation) throws -> T) rethrows -> T {
        let pool = WorkerPool(threads: WorkerPool.coreCount)
        defer { pool.shutdown() }
        var preparation = Preparation(pool: pool, resume: resume)
        return try body(&preparation)
    }

    /// Seeds content at `path` (a file or directory), writing its torrent to `torrentPath`.
    /// An existing torrent there that describes the same files is reused, and the pieces trusted
    /// from resume data when no file changed since; otherwise the torrent is made anew.
    public func prepareContent(
        at path: String, torrentPath: String, options: CreateOptions
    ) throws(SeedError) -> PreparedSeed {
        let scan: ContentScan
        do { scan = try ContentScan(path: path) } catch { throw .create(error) }
        let directory = Self.parent(of: path)
        if let existing = try? MetainfoLoader.load(torrentPath), Self.describes(existing, scan),
            Self.sameTrackers(existing, options)
        {
            let location = ContentLocation(metainfo: existing, directory: directory)
            if let pieces = resume.trustedPieces(existing, location: location), pieces.isFull {
                return PreparedSeed(metainfo: existing, torrentPath: torrentPath, location: location, have: pieces, how: "resume")
            }
        }
        let bytes: [UInt8]
        do {
            bytes = try TorrentCreator.create(scan, options: options, pool: pool) { _, _, done in
                progress(done, scan.totalLength, "hashing")
            }
        } catch { throw .create(error) }
        do { try FileContents.writeAtomically(bytes, to: torrentPath) } catch { throw .system(error) }
        let metainfo: Metainfo
        do { metainfo = try MetainfoLoader.parse(bytes, path: torrentPath) } catch { throw .load(error) }
        let location = ContentLocation(metainfo: metainfo, directory: directory)
        let have = Bitfield(count: metainfo.info.pieceCount, allSet: true)
        save(metainfo, location: location, have: have)
        return PreparedSeed(metainfo: metainfo, torrentPath: torrentPath, location: location, have: have, how: "created")
    }

    /// Seeds an existing torrent whose content is `dataDirectory/name`.
    public func prepareTorrent(at torrentPath: String, dataDirectory: String) throws(SeedError) -> PreparedSeed {
        let metainfo: Metainfo
        do { metainfo = try MetainfoLoader.load(torrentPath) } catch { throw .load(error) }
        let location = ContentLocation(metainfo: metainfo, directory: dataDirectory)
        if let pieces = resume.trustedPieces(metainfo, location: location) {
            guard !pieces.isEmpty else { throw .nothingToSeed(metainfo.info.name, dataDirectory) }
            return PreparedSeed(metainfo: metainfo, torrentPath: torrentPath, location: location, have: pieces, how: "resume")
        }
        let report = DataVerifier.verify(metainfo, directory: dataDirectory, pool: pool) { _, _, done in
            progress(done, metainfo.info.totalLength, "verifying")
        }
        guard !report.goodPieces.isEmpty else { throw .nothingToSeed(metainfo.info.name, dataDirectory) }
        save(metainfo, location: location, have: report.goodPieces)
        return PreparedSeed(
            metainfo: metainfo, torrentPath: torrentPath, location: location, have: report.goodPieces, how: "verified")
    }

    private func save(_ metainfo: Metainfo, location: ContentLocation, have: Bitfield) {
        let data = ResumeData(infoHash: metainfo.infoHash, pieces: have, files: ResumeStore.fileStates(location))
        try? resume.save(data)
    }

    /// Whether `metainfo` is the torrent of `scan` (same name, files and sizes).
    static func describes(_ metainfo: Metainfo, _ scan: ContentScan) -> Bool {
        metainfo.info.name == scan.name && metainfo.info.isSingleFile == scan.isSingleFile
            && metainfo.info.files.map(\.path) == scan.files.map(\.path)
            && metainfo.info.files.map(\.length) == scan.files.map(\.length)
    }

    static func sameTrackers(_ metainfo: Metainfo, _ options: CreateOptions) -> Bool {
        metainfo.trackerTiers == options.trackerTiers.filter { !$0.isEmpty } && metainfo.info.isPrivate == options.isPrivate
    }

    /// The directory holding `path` (the content lives at parent/name).
    static func parent(of path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }
}

/// Why seeding cannot start.
public enum SeedError: Error, Sendable, CustomStringConvertible {
    case create(CreateError)
    case load(LoadError)
    case system(SystemError)
    /// No piece of the data verified.
    case nothingToSeed(String, String)

    public var description: String {
        switch self {
        case .create(let error): return error.description
        case .load(let error): return error.description
        case .system(let error): return error.description
        case .nothingToSeed(let name, let directory):
            return "no data of '\(name)' verified under \(directory); check --data (the content must be at DIR/\(name))"
        }
    }
}
