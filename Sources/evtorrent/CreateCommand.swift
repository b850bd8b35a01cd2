import ArgumentParser
import Client

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent create PATH`: make a .torrent, in the spirit of mktorrent and transmission-create.
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make a .torrent file for a file or directory.",
        discussion: """
            Files in a directory are ordered by path, as mktorrent orders them, so both tools give the
            same info hash for the same content and piece length. Each -t starts a tracker tier;
            URLs joined by commas within one -t share a tier (BEP 12).
            """)

    @Argument(help: "The file or directory to share.")
    var path: String

    @Option(name: .shortAndLong, help: "Where to write the torrent (default: NAME.torrent here).")
    var output: String?

    @Option(name: [.customShort("t"), .long], help: "Tracker URL; repeat for more tiers, commas for one tier.")
    var tracker: [String] = []

    @Option(
        name: [.customShort("l"), .long],
        help: "Piece size: bytes (262144), with a unit (256K, 1M), or a power of two (18). Default: by total size.")
    var pieceLength: String?

    @Flag(name: .shortAndLong, help: "Mark the torrent private (BEP 27).")
    var `private` = false

    @Option(name: .shortAndLong, help: "A comment stored in the torrent.")
    var comment: String?

    @Option(name: .shortAndLong, help: "A source tag stored in the info dictionary (changes the info hash).")
    var source: String?

    @Option(name: [.customShort("w"), .long], help: "Web seed URL (BEP 19); repeatable.")
    var webSeed: [String] = []

    @Option(help: "Hashing threads (default: one per core).")
    var threads: Int?

    @Flag(help: "Leave out the creation date so the same content gives the same file.")
    var noDate = false

    @Flag(name: .shortAndLong, help: "Overwrite the output file if it exists.")
    var force = false

    func run() throws {
        let content: ContentScan
        do { content = try ContentScan(path: path) } catch { throw fail(error.description) }
        var options = CreateOptions()
        options.trackerTiers = tracker.map { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
        options.isPrivate = `private`
        options.comment = comment
        options.source = source
        options.webSeeds = webSeed
        options.creationDate = noDate ? nil : Int64(time(nil))
        if let pieceLength {
            guard let parsed = SizeParser.pieceLength(pieceLength) else {
                throw fail("piece length '\(pieceLength)' is not a size like 262144, 256K, 1M or 18")
            }
            options.pieceLength = parsed
        }
        let destination = output ?? content.name + ".torrent"
        if !force, (try? FileStatus.of(destination)) ?? nil != nil {
            throw fail("\(destination) already exists; use --force to overwrite it")
        }
        if let threads, threads < 1 { throw fail("--threads must be at least 1") }

        let bar = ProgressBar(label: "hashing", total: content.totalLength)
        let bytes: [UInt8]
        do {
            bytes = try TorrentCreator.create(content, options: options, threads: threads ?? TorrentCreator.defaultThreads) { _, _, done in
                bar.update(bytesDone: done)
            }
        } catch {
            bar.finish()
            throw fail(error.description)
        }
        bar.finish()
        do { try TorrentCreator.save(bytes, to: destination) } catch { throw fail(error.description) }
        let metainfo: Metainfo
        do { metainfo = try MetainfoLoader.parse(bytes, path: destination, strict: true) } catch { throw fail(error.description) }
        print("wrote \(destination)")
        print("name:      \(metainfo.info.name)")
        print("info hash: \(metainfo.infoHash)")
        print("size:      \(Format.bytes(metainfo.info.totalLength)) in \(metainfo.info.files.count) file(s)")
        print("pieces:    \(metainfo.info.pieceCount) × \(Format.bytes(Int64(metainfo.info.pieceLength)))")
        print("magnet:    \(metainfo.magnetLink)")
    }
}

/// Parses piece sizes the way users type them.
enum SizeParser {
    /// `262144`, `256K`, `256KiB`, `1M`, `4MiB`, or an exponent below 31 (mktorrent's `-l 18`).
    static func pieceLength(_ text: String) -> Int? {
        let lower = text.lowercased().replacingOccurrences(of: "ib", with: "").replacingOccurrences(of: "b", with: "")
        var digits = lower
        var multiplier = 1
        if let last = lower.last, let unit = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30][String(last)] {
            multiplier = unit
            digits = String(lower.dropLast())
        }
        guard let number = Int(digits), number > 0 else { return nil }
        if multiplier == 1 && number < 31 { return 1 << number }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
