import Client
import Reactor
import TorrentCore

/// IP blocklists as transmission-daemon keeps them: every file in the config directory's
/// `blocklists/` is a list (P2P, DAT or CIDR text, gzip or plain; Transmission's own `.bin` files
/// beside them are skipped), loaded at start and whenever `blocklist-enabled` turns on;
/// `blocklist-update` fetches `blocklist-url` into `blocklists/blocklist`. Reading and parsing run
/// on the file pool (a 450,000-rule list is 15 MB of text); the session refuses the addresses
/// both ways and closes connections already open from them.
extension Daemon {
    /// The largest list accepted, compressed or not.
    static let maxBlocklistBytes = 256 << 20

    var blocklistDirectory: String { config.path + "/blocklists" }

    /// Loads every list in `blocklists/` (or clears the session's, when disabled) and reports the
    /// rule count to `completion`.
    func loadBlocklists(completion: @escaping (Int) -> Void = { _ in }) {
        guard settings.bool("blocklist-enabled") else {
            session.setBlocklist(Blocklist())
            return completion(0)
        }
        let directory = blocklistDirectory
        loop.offload(to: filePool, { () -> (Blocklist, files: Int, failures: [String]) in
            var merged = Blocklist()
            var files = 0
            var failures: [String] = []
            for name in ((try? FileContents.list(directory)) ?? []).sorted() where !name.hasPrefix(".") && !name.hasSuffix(".bin") {
                do {
                    merged = merged.merged(with: try Self.readBlocklist(directory + "/" + name))
                    files += 1
                } catch { failures.append("\(name): \(error)") }
            }
            return (merged, files, failures)
        }) { [weak self] loaded in
            guard let self else { return }
            for failure in loaded.failures { log.warn("blocklist_unreadable", [("file", failure)]) }
            // Turned off while the lists were read: stay off.
            guard settings.bool("blocklist-enabled") else { return completion(0) }
            session.setBlocklist(loaded.0)
            log.info("blocklist_loaded", [("rules", loaded.0.ruleCount), ("files", loaded.files), ("skipped_lines", loaded.0.skippedLines)])
            completion(loaded.0.ruleCount)
        }
    }

    /// blocklist-update: fetches `blocklist-url`, keeps it as `blocklists/blocklist` if it holds
    /// any rule (a page of HTML or an empty reply leaves the old list in place) and loads the
    /// directory again; the reply carries the rule count.
    func blocklistUpdate(completion: @escaping (Result<Arguments, RPCFailure>) -> Void) {
        let url = settings.string("blocklist-url")
        guard url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://") else {
            return completion(.failure(RPCFailure(.invalidParams, "blocklist-url is not an http(s) URL: \(url.printable())")))
        }
        HTTPClient(loop: loop).get(url, timeout: .seconds(60), maxResponseBytes: Self.maxBlocklistBytes) { [weak self] result in
            guard let self else { return }
            let body: [UInt8]
            switch result {
            case .success(let response) where response.status == 200: body = response.body
            case .success(let response): return completion(.failure(RPCFailure(.internalError, "fetching the blocklist \(url.printable()): HTTP \(response.status)")))
            case .failure(let error): return completion(.failure(RPCFailure(.internalError, "fetching the blocklist \(url.printable()): \(error)")))
            }
            let path = blocklistDirectory + "/blocklist"
            let directory = blocklistDirectory
            loop.offload(to: filePool, { () -> Result<Int, BlocklistProblem> in
                do {
                    let list = try Self.parseBlocklist(body)
                    guard !list.isEmpty else { return .failure(BlocklistProblem("no rules in it (\(list.skippedLines) lines that are not a blocklist rule)")) }
                    try FileContents.makeDirectories(directory)
                    try FileContents.writeAtomically(body, to: path)
                    return .success(list.ruleCount)
                } catch { return .failure(BlocklistProblem("\(error)")) }
            }) { [weak self] saved in
                guard let self else { return }
                switch saved {
                case .failure(let reason):
                    completion(.failure(RPCFailure(.internalError, "the blocklist from \(url.printable()) was not taken: \(reason)")))
                case .success:
                    log.info("blocklist_updated", [("url", url), ("file", path)])
                    loadBlocklists { rules in completion(.success([("blocklist_size", .integer(Int64(rules)))])) }
                }
            }
        }
    }

    /// The rules in `path` (gzip or plain text).
    static func readBlocklist(_ path: String) throws -> Blocklist {
        try parseBlocklist(try FileContents.read(path, limit: maxBlocklistBytes))
    }

    /// The rules in `bytes`, unpacked first if they are gzip.
    static func parseBlocklist(_ bytes: [UInt8]) throws -> Blocklist {
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            return Blocklist(parsing: try Gzip.decompress(bytes, limit: maxBlocklistBytes))
        }
        if bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04 {
            throw BlocklistProblem("a zip archive: use the list's plain or .gz form")
        }
        return Blocklist(parsing: bytes)
    }
}

/// Why a blocklist was not taken.
struct BlocklistProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
