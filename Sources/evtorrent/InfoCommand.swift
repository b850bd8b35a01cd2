import ArgumentParser
import Client

/// `evtorrent info FILE|MAGNET`: what a torrent holds, like transmission-show.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show what a .torrent file or magnet link describes.")

    @Argument(help: "A .torrent file or a magnet link.")
    var torrent: String

    @Flag(help: "Print JSON for scripts instead of text.")
    var json = false

    @Flag(help: "Ask each tracker for seeders, leechers and completed downloads (BEP 48, BEP 15); a tracker silent for --scrape-timeout is reported as such.")
    var scrape = false

    @Option(help: "Seconds to wait for the trackers' answers with --scrape.")
    var scrapeTimeout = 15

    @Flag(help: "Refuse what BEP 3 forbids but other clients take (dictionary keys out of order).")
    var strict = false

    func run() throws {
        if torrent.lowercased().hasPrefix("magnet:") {
            let magnet: MagnetLink
            do { magnet = try MagnetLink(parsing: torrent) } catch { throw fail(error.description) }
            print(json ? Self.json(magnet).rendered() : Self.text(magnet))
            return
        }
        let metainfo: Metainfo
        do { metainfo = try MetainfoLoader.load(torrent, strict: strict) } catch { throw fail(error.description) }
        if scrape {
            try printScrape(metainfo.infoHash, trackers: metainfo.trackers)
            return
        }
        print(json ? Self.json(metainfo).rendered() : Self.text(metainfo))
    }

    private func printScrape(_ infoHash: InfoHash, trackers: [String]) throws {
        let rows: [(String, Result<ScrapeCounts, ScrapeFailure>)]
        do { rows = try TrackerScraper.scrapeAll(infoHash, trackers: trackers, timeout: .seconds(max(1, scrapeTimeout))) } catch { throw fail(error.description) }
        if json {
            print(OutputJSON.array(rows.map { url, result in
                switch result {
                case .success(let counts):
                    return .object([("tracker", .string(url)), ("seeders", .number(Int64(counts.seeders))),
                                    ("leechers", .number(Int64(counts.leechers))), ("completed", .number(Int64(counts.completed)))])
                case .failure(let reason): return .object([("tracker", .string(url)), ("error", .string(reason.description))])
                }
            }).rendered())
            return
        }
        if rows.isEmpty { print("no trackers") }
        for (url, result) in rows {
            switch result {
            case .success(let counts): print("\(url): \(counts.seeders) seeders, \(counts.leechers) leechers, \(counts.completed) completed")
            case .failure(let reason): print("\(url): \(reason)")
            }
        }
    }

    static func text(_ metainfo: Metainfo) -> String {
        let info = metainfo.info
        var lines = [
            "Name:        \(info.name)",
            "Info hash:   \(metainfo.infoHash)",
            "Size:        \(Format.bytes(info.totalLength)) (\(info.totalLength) bytes)",
            "Pieces:      \(info.pieceCount) × \(Format.bytes(Int64(info.pieceLength))) (\(info.pieceLength) bytes)",
            "Private:     \(info.isPrivate ? "yes" : "no")",
        ]
        if let source = info.source { lines.append("Source:      \(source)") }
        if let createdBy = metainfo.createdBy { lines.append("Created by:  \(createdBy)") }
        if let date = metainfo.creationDate { lines.append("Created on:  \(Format.date(date))") }
        if let comment = metainfo.comment { lines.append("Comment:     \(comment)") }
        lines.append("")
        lines.append("Trackers:" + (metainfo.trackerTiers.isEmpty ? " none" : ""))
        for (number, tier) in metainfo.trackerTiers.enumerated() {
            for url in tier { lines.append("  tier \(number + 1): \(url)") }
        }
        if !metainfo.webSeeds.isEmpty {
            lines.append("Web seeds:")
            lines += metainfo.webSeeds.map { "  \($0)" }
        }
        lines.append("")
        lines.append("Files (\(info.files.count)):")
        for index in info.files.indices {
            let file = info.files[index]
            let padding = file.isPadding ? " [padding]" : ""
            lines.append(
                "  \(info.relativePath(of: FileIndex(index)).joined(separator: "/")) (\(Format.bytes(file.length)))\(padding)")
        }
        lines.append("")
        lines.append("Magnet:      \(metainfo.magnetLink)")
        return lines.joined(separator: "\n")
    }

    static func json(_ metainfo: Metainfo) -> OutputJSON {
        let info = metainfo.info
        let files: [OutputJSON] = info.files.indices.map { index in
            .object([
                ("path", .string(info.relativePath(of: FileIndex(index)).joined(separator: "/"))),
                ("length", .number(info.files[index].length)),
                ("padding", .bool(info.files[index].isPadding)),
            ])
        }
        return .object([
            ("name", .string(info.name)),
            ("info_hash", .string(metainfo.infoHash.hex)),
            ("total_size", .number(info.totalLength)),
            ("piece_length", .number(Int64(info.pieceLength))),
            ("piece_count", .number(Int64(info.pieceCount))),
            ("private", .bool(info.isPrivate)),
            ("source", info.source.map(OutputJSON.string) ?? .null),
            ("created_by", metainfo.createdBy.map(OutputJSON.string) ?? .null),
            ("creation_date", metainfo.creationDate.map(OutputJSON.number) ?? .null),
            ("comment", metainfo.comment.map(OutputJSON.string) ?? .null),
            ("trackers", .array(metainfo.trackerTiers.map { .array($0.map(OutputJSON.string)) })),
            ("web_seeds", .array(metainfo.webSeeds.map(OutputJSON.string))),
            ("files", .array(files)),
            ("magnet", .string(metainfo.magnetLink.uri)),
        ])
    }

    static func text(_ magnet: MagnetLink) -> String {
        var lines = [
            "Name:        \(magnet.displayName ?? "(not given)")",
            "Info hash:   \(magnet.infoHash)",
            "Trackers:" + (magnet.trackers.isEmpty ? " none" : ""),
        ]
        lines += magnet.trackers.map { "  \($0)" }
        if !magnet.webSeeds.isEmpty { lines += ["Web seeds:"] + magnet.webSeeds.map { "  \($0)" } }
        if !magnet.peers.isEmpty { lines += ["Peers:"] + magnet.peers.map { "  \($0)" } }
        lines.append("Magnet:      \(magnet.uri)")
        return lines.joined(separator: "\n")
    }

    static func json(_ magnet: MagnetLink) -> OutputJSON {
        .object([
            ("name", magnet.displayName.map(OutputJSON.string) ?? .null),
            ("info_hash", .string(magnet.infoHash.hex)),
            ("trackers", .array(magnet.trackers.map(OutputJSON.string))),
            ("web_seeds", .array(magnet.webSeeds.map(OutputJSON.string))),
            ("peers", .array(magnet.peers.map(OutputJSON.string))),
            ("magnet", .string(magnet.uri)),
        ])
    }
}
