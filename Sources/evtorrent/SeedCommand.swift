import ArgumentParser
import Client

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent seed DIR` / `evtorrent seed FILE.torrent --data DIR`: the main job.
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Seed a directory or file (making its torrent) or an existing torrent.",
        discussion: """
            With a directory or file, writes PATH.torrent (or -o), prints the magnet link and seeds.
            By default an embedded HTTP tracker runs on --tracker-port and its URL goes into the
            torrent, so any client holding the .torrent finds this seed with nothing else installed;
            --tracker URL announces to external trackers instead. With a .torrent, the seed also
            announces to the trackers it lists; its content is
            expected at DIR/NAME (--data, default: the torrent's directory) and is verified first, or
            trusted from the resume file of an earlier run if no file changed. Stop with Ctrl-C
            (SIGINT) or SIGTERM: trackers hear 'stopped' and peers are closed cleanly.
            """)

    @Argument(help: "A directory or file to share, or a .torrent file.")
    var path: String

    @Option(name: .shortAndLong, help: "Where to write the torrent made for PATH (default: PATH.torrent).")
    var output: String?

    @Option(name: .shortAndLong, help: "For a .torrent: the directory holding its content (default: its directory).")
    var data: String?

    @Option(help: "Port for peers.")
    var port: UInt16 = 6881

    @Option(help: "Address to listen on (default: all interfaces).")
    var bind = "0.0.0.0"

    @Option(name: [.customShort("t"), .long], help: "External http(s):// or udp:// tracker URL (repeatable); disables the embedded tracker.")
    var tracker: [String] = []

    @Option(help: "Port of the embedded tracker.")
    var trackerPort: UInt16 = 6969

    @Option(help: "Host name or address other machines reach this one at (default: the bind address, else the first non-loopback IPv4).")
    var announceHost: String?

    @Option(help: "Unchoke slots per torrent (rotated by the choker), or 'unlimited' to serve every interested peer.")
    var unchokeSlots = "unlimited"

    @Option(help: "Seeding choker: round-robin, fastest-upload or anti-leech.")
    var choker = "round-robin"

    @Option(help: "Most peers at once (default: what the open-file limit leaves after data files and the tracker).")
    var maxPeers: Int?

    @Option(help: "Upload limit in KiB/s (default: none).")
    var uploadLimit: Int?

    @Option(help: "How blocks reach sockets: mappedReference (default) or copy.")
    var payload = "mappedReference"

    @Option(name: [.customShort("l"), .long], help: "Piece size for a new torrent (as in create).")
    var pieceLength: String?

    @Flag(name: .shortAndLong, help: "Mark a new torrent private (BEP 27).")
    var `private` = false

    @OptionGroup var flags: SessionFlags

    /// Whether PATH is an existing .torrent (else: content to make one for).
    private var isTorrentFile: Bool { path.hasSuffix(".torrent") && ((try? FileStatus.of(path))??.kind == .regular) }

    func run() throws {
        let log = flags.log()
        let capacity = SessionHost.prepareProcess()
        var options = SessionOptions()
        guard let bindAddress = SocketAddress(host: bind, port: port) else { throw fail("--bind \(bind) is not an IP address") }
        guard let mode = PayloadMode(rawValue: payload) else { throw fail("--payload must be mappedReference or copy") }
        guard let algorithm = SeedChokingAlgorithm(rawValue: choker) else {
            throw fail("--choker must be round-robin, fastest-upload or anti-leech")
        }
        if unchokeSlots != "unlimited" {
            guard let count = Int(unchokeSlots), count > 0 else { throw fail("--unchoke-slots must be a positive number or 'unlimited'") }
            options.unchokeSlots = count
        }
        options.listen = bindAddress
        flags.apply(to: &options)
        // Every peer is a descriptor: the peers get what the limit leaves after the data files,
        // the embedded tracker's connections and a margin.
        options.maxPeers = min(maxPeers ?? .max, SessionHost.peerRoom(capacity: capacity, openFiles: options.openFiles))
        options.maxPeersPerTorrent = options.maxPeers
        options.choker = algorithm
        options.payloadMode = mode
        options.uploadLimit = uploadLimit.map { $0 * 1024 }

        let host: SessionHost
        do { host = try SessionHost(options: options, log: log) } catch { throw fail(error.description) }
        let session = host.session
        // The embedded tracker starts before the torrent is made: its URL goes into it.
        var embeddedURL: String?
        if tracker.isEmpty {
            let address = SocketAddress(host: bind, port: trackerPort)!
            let reachable = announceHost ?? (bind == "0.0.0.0" || bind == "::" ? SocketAddress.firstExternalIPv4() ?? "127.0.0.1" : bind)
            do { embeddedURL = try session.startEmbeddedTracker(on: address, host: reachable) } catch {
                throw fail("cannot start the embedded tracker: \(error) (use --tracker-port or --tracker)")
            }
        }
        let prepared = try prepare(trackerTiers: embeddedURL.map { [[$0]] } ?? tracker.map { [$0] })

        // External trackers: --tracker URLs, and a given torrent's own (the embedded tracker is not
        // in a torrent made elsewhere, so its clients look for this seed there).
        var torrentOptions = TorrentOptions()
        torrentOptions.trackerTiers = tracker.map { [$0] }
        if isTorrentFile {
            for tier in prepared.metainfo.trackerTiers where !torrentOptions.trackerTiers.contains(tier) && tier != embeddedURL.map({ [$0] }) {
                torrentOptions.trackerTiers.append(tier)
            }
        }
        let torrent = session.add(prepared.metainfo, location: prepared.location, have: prepared.have, options: torrentOptions)

        let info = prepared.metainfo.info
        print("seeding   \(info.name) (\(Format.bytes(info.totalLength)), \(prepared.have.setCount)/\(info.pieceCount) pieces, \(prepared.how))")
        print("torrent   \(prepared.torrentPath)")
        print("info hash \(prepared.metainfo.infoHash)")
        print("magnet    \(prepared.metainfo.magnetLink)")
        print("peers     \(session.listenAddress) (up to \(options.maxPeers) connections)")
        for url in prepared.metainfo.trackers { print("tracker   \(url)\(url == embeddedURL ? " (embedded)" : "")") }
        fflush(nil)

        let status = StatusLine(session: session, log: log)
        host.every(.seconds(1)) { status.tick() }
        var stopping = false
        host.onStopSignal {
            guard !stopping else { return }
            stopping = true
            status.finish()
            print("stopping: closing \(session.connectionCount) peer(s)")
            session.shutdown { host.stop() }
        }
        host.run()
        print("uploaded  \(Format.bytes(torrent.uploadedBytes))")
    }

    private func prepare(trackerTiers: [[String]]) throws -> PreparedSeed {
        try Preparation.run(resume: flags.resumeStore()) { preparation in
            let bar = LazyProgressBar()
            preparation.progress = bar.update
            defer { bar.finish() }
            do {
                if isTorrentFile {
                    return try preparation.prepareTorrent(at: path, dataDirectory: data ?? VerifyCommand.directory(of: path))
                }
                var options = CreateOptions()
                options.trackerTiers = trackerTiers
                options.isPrivate = `private`
                if let pieceLength {
                    guard let parsed = SizeParser.pieceLength(pieceLength) else { throw fail("invalid --piece-length") }
                    options.pieceLength = parsed
                }
                var trimmed = path
                while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
                return try preparation.prepareContent(at: path, torrentPath: output ?? trimmed + ".torrent", options: options)
            } catch let error as SeedError {
                throw fail(error.description)
            }
        }
    }
}

/// The process environment as a dictionary.
enum ProcessEnvironment {
    static func all() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

/// The live status line on a terminal, or a structured line every 30 s otherwise.
final class StatusLine {
    private let session: Session
    private let log: Log
    private let terminal = Terminal.stderrIsTerminal
    private var ticks = 0

    init(session: Session, log: Log) {
        self.session = session
        self.log = log
        if terminal { log.beforeWrite = { Terminal.writeError("\r\u{1B}[K") } }
    }

    func tick() {
        ticks += 1
        let status = session.status
        let text =
            "peers \(status.peers) · interested \(status.interested) · unchoked \(status.unchoked) · up \(Format.bytes(Int64(status.uploadRate)))/s · total \(Format.bytes(status.uploadedBytes))"
        if terminal {
            Terminal.writeError("\r\(text)\u{1B}[K")
        } else if ticks % 30 == 0 {
            print(
                "status peers=\(status.peers) interested=\(status.interested) unchoked=\(status.unchoked) upload_bytes_per_s=\(status.uploadRate) uploaded_bytes=\(status.uploadedBytes)"
            )
            fflush(nil)
        }
    }

    func finish() {
        if terminal { Terminal.writeError("\n") }
    }
}

extension EncryptionPolicy: ExpressibleByArgument {}

/// Where resume data lives and how much to log: shared by the commands that run a session.
struct SessionFlags: ParsableArguments {
    @Option(help: "Where resume files live (default: ~/.local/share/evtorrent).")
    var sessionDir: String?

    @Flag(help: "Log peer events (info level).")
    var verbose = false

    @Flag(help: "Do not exchange peers with peers (BEP 11 PEX; never done for private torrents).")
    var noPex = false

    @Option(help: "Peer encryption (MSE/PE): tolerated (plaintext out, both in), preferred (encrypted out, plaintext if refused), or required.")
    var encryption: EncryptionPolicy = .preferred

    @Flag(help: "Find peers on the local network by multicast (BEP 14 local service discovery; not for private torrents).")
    var lsd = false

    @Option(help: "Most connections one address may open to us at once (the other slots stay for other peers).")
    var maxPeersPerAddress = SessionOptions().maxPeersPerAddress

    @Flag(help: "Log everything (debug level).")
    var debug = false

    /// Puts the peer flags into `options`.
    func apply(to options: inout SessionOptions) {
        options.pexEnabled = !noPex
        options.lsdEnabled = lsd
        options.encryption = encryption
        options.maxPeersPerAddress = max(1, maxPeersPerAddress)
    }

    /// The log at the chosen level: warnings only by default.
    func log() -> Log { Log(minimum: debug ? .debug : verbose ? .info : .warn) }

    /// The resume store in --session-dir or the default directory.
    func resumeStore() -> ResumeStore {
        ResumeStore(directory: sessionDir ?? ResumeStore.defaultDirectory(environment: ProcessEnvironment.all()))
    }
}
