import ArgumentParser
import Client

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent download TORRENT -o DIR`: fetch, verify, then seed.
struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a torrent, verifying every piece, then seed it.",
        discussion: """
            The content lands at DIR/NAME. Peers come from the torrent's trackers and from --peer.
            A magnet link's metadata is fetched from its trackers (tr=), its peers (x.pe=), --peer
            and peers that connect in, then kept in the session directory as INFOHASH.torrent.
            Every piece is hash-checked before it counts and is written only once verified; the
            resume file is updated every few seconds, so after a crash or Ctrl-C the same command
            picks up where it stopped, keeping every verified piece. When done it seeds until
            --seed-ratio or --seed-time is reached (default: until stopped), or exits at once with
            --no-seed. Exit status: 0 when the download is complete, 1 on error or interruption.
            """)

    @Argument(help: "The .torrent file, or a magnet link (its metadata is fetched from peers first).")
    var torrent: String

    @Option(name: .shortAndLong, help: "Directory to download into (the content goes to DIR/NAME).")
    var output = "."

    @Option(help: "A peer to connect to, HOST:PORT (repeatable).")
    var peer: [String] = []

    @Option(help: "Port for incoming peers.")
    var port: UInt16 = 6881

    @Option(help: "Address to listen on (default: all interfaces).")
    var bind = "0.0.0.0"

    @Flag(help: "Exit once the download is complete instead of seeding.")
    var noSeed = false

    @Option(help: "After completing, seed until uploaded/size reaches this ratio.")
    var seedRatio: Double?

    @Option(help: "After completing, seed for this long (seconds, or with s/m/h: 90s, 30m, 2h).")
    var seedTime: String?

    @Option(help: "Download only files whose path in the torrent matches this glob (repeatable).")
    var only: [String] = []

    @Option(help: "Skip files whose path in the torrent matches this glob (repeatable).")
    var skip: [String] = []

    @Flag(help: "Fetch pieces in order (for streaming) instead of rarest first.")
    var sequential = false

    @Flag(help: "Reserve each file's full size on disk up front instead of creating sparse files.")
    var preallocate = false

    @Option(help: "Upload limit in KiB/s (default: none).")
    var uploadLimit: Int?

    @OptionGroup var flags: SessionFlags

    func run() throws {
        let log = flags.log()
        _ = SessionHost.prepareProcess()
        guard let bindAddress = SocketAddress(host: bind, port: port) else { throw fail("--bind \(bind) is not an IP address") }
        var torrentOptions = TorrentOptions()
        for text in peer {
            guard let address = SocketAddress(parsing: text.replacingLocalhost()) else {
                throw fail("--peer \(text) is not HOST:PORT with a numeric address")
            }
            torrentOptions.peers.append(address)
        }
        if let seedTime {
            guard let seconds = Self.seconds(seedTime) else { throw fail("--seed-time \(seedTime) is not a duration like 90, 90s, 30m or 2h") }
            torrentOptions.seedTimeLimit = .seconds(seconds)
        }
        torrentOptions.seedRatioLimit = seedRatio
        let store = flags.resumeStore()
        // A magnet starts from the torrent an earlier run fetched, if there is one.
        var magnet: MagnetLink?
        var known: Metainfo?
        if torrent.lowercased().hasPrefix("magnet:") {
            do { magnet = try MagnetLink(parsing: torrent) } catch { throw fail(error.description) }
            known = store.savedTorrent(magnet!.infoHash)
        } else {
            do { known = try MetainfoLoader.load(torrent) } catch { throw fail(error.description) }
        }
        let prepared = try known.map { try prepare($0, store: store) }

        var options = SessionOptions()
        options.listen = bindAddress
        flags.apply(to: &options)
        options.uploadLimit = uploadLimit.map { $0 * 1024 }
        let host: SessionHost
        do { host = try SessionHost(options: options, log: log) } catch { throw fail(error.description) }
        let session = host.session
        var download = DownloadOptions()
        download.sequential = sequential
        download.preallocate = preallocate
        download.resume = store
        torrentOptions.download = download

        var running: Torrent?
        var progress: DownloadProgress?
        var fetching: MetadataProgress?
        var complete = false
        var interrupted = false
        var stopping = false
        var failure: String?
        let stop = {
            guard !stopping else { return }
            stopping = true
            progress?.finish()
            fetching?.finish()
            session.shutdown { host.stop() }
        }
        let seedUntilDone = {
            guard let torrent = running, let progress else { return }
            complete = true
            progress.finish()
            let elapsed = progress.elapsedSeconds
            print(
                "complete  \(Format.bytes(torrent.downloadedBytes)) in \(Format.duration(elapsed)) (\(Format.bytes(Int64(Double(torrent.downloadedBytes) / max(elapsed, 0.001))))/s), \(torrent.hashFailures) hash failure(s)"
            )
            fflush(nil)
            if noSeed { return stop() }
            print("seeding   (Ctrl-C to stop)")
            fflush(nil)
        }
        // The torrent is known (given, kept, or just fetched): the download starts.
        func begin(_ prepared: PreparedDownload, from fetch: MetadataFetch?) {
            let metainfo = prepared.metainfo
            let info = metainfo.info
            var options = torrentOptions
            options.download?.piecePriorities = prepared.priorities
            options.trackerTiers = metainfo.trackerTiers
            if metainfo.trackerTiers.isEmpty && options.peers.isEmpty && magnet == nil && !flags.lsd {
                log.warn("no_peer_source", [("detail", "the torrent names no tracker and no --peer was given")])
            }
            let torrent =
                fetch.map { session.add(metainfo, location: prepared.location, have: prepared.have, options: options, handingOver: $0) }
                ?? session.add(metainfo, location: prepared.location, have: prepared.have, options: options)
            print("download  \(info.name) (\(Format.bytes(info.totalLength)), \(info.pieceCount) pieces)")
            print("into      \(prepared.location.paths.count == 1 ? prepared.location.paths[0] : output + "/" + info.name)")
            print("have      \(prepared.have.setCount)/\(info.pieceCount) pieces (\(prepared.how))")
            print("peers     listening on \(session.listenAddress)")
            fflush(nil)
            running = torrent
            progress = DownloadProgress(torrent: torrent, session: session, total: torrent.bytesLeft)
            complete = !torrent.isDownloading
            // A seeding limit reached: the torrent stopped itself.
            torrent.stopped = { reason in
                if reason != .requested { stop() }
            }
            torrent.downloadFinished = seedUntilDone
            if complete { host.soon(seedUntilDone) }
        }

        if let prepared {
            begin(prepared, from: nil)
        } else if let magnet {
            let fetch = session.fetchMetadata(magnet, peers: torrentOptions.peers)
            print("metadata  \(magnet.displayName ?? magnet.infoHash.hex): fetching from \(magnet.trackers.count) tracker(s), \(magnet.peers.count + torrentOptions.peers.count) peer(s)")
            print("peers     listening on \(session.listenAddress)")
            fflush(nil)
            if magnet.trackers.isEmpty && magnet.peers.isEmpty && torrentOptions.peers.isEmpty {
                let detail = flags.lsd ? "waiting for peers on the local network (--lsd) or that connect in" : "waiting for peers to connect in"
                log.warn("no_peer_source", [("detail", "the magnet names no tracker or peer and no --peer was given: \(detail)")])
            }
            fetching = MetadataProgress(fetch: fetch)
            fetch.finished = { result in
                fetching?.finish()
                fetching = nil
                switch result {
                case .failure(let error):
                    failure = "the metadata peers sent is not a usable torrent: \(error)"
                    stop()
                case .success(let fetched):
                    print("metadata  fetched: \(fetched.metainfo.info.name), kept in \(store.torrentPath(fetched.metainfo.infoHash))")
                    do { try store.saveTorrent(fetched.file, infoHash: fetched.metainfo.infoHash) } catch {
                        log.warn("torrent_save_failed", [("error", error)])
                    }
                    do { begin(try prepare(fetched.metainfo, store: store), from: fetch) } catch {
                        failure = "\(error)"
                        stop()
                    }
                }
            }
        }
        host.every(.seconds(1)) {
            if let progress { if !complete { progress.tick() } } else { fetching?.tick() }
        }
        host.onStopSignal {
            if !complete { interrupted = true }
            stop()
        }
        host.run()
        if let failure { throw fail(failure) }
        if interrupted {
            guard let torrent = running else { throw fail("interrupted while fetching the metadata") }
            throw fail("interrupted with \(Format.bytes(torrent.bytesLeft)) left; verified pieces are saved: run the same command to resume")
        }
    }

    private func prepare(_ metainfo: Metainfo, store: ResumeStore) throws -> PreparedDownload {
        try Preparation.run(resume: store) { preparation in
            let bar = LazyProgressBar()
            preparation.progress = bar.update
            defer { bar.finish() }
            do { return try preparation.prepare(metainfo, into: output, only: only, skip: skip) } catch let error as DownloadError {
                throw fail(error.description)
            }
        }
    }

    /// Seconds in "90", "90s", "30m" or "2h".
    static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600]
        if let last = text.last, let unit = units[last], let value = Int64(text.dropLast()), value >= 0 { return value * unit }
        if let value = Int64(text), value >= 0 { return value }
        return nil
    }
}

extension String {
    /// "localhost:N" as "127.0.0.1:N", the one name --peer accepts without a resolver.
    fileprivate func replacingLocalhost() -> String {
        hasPrefix("localhost:") ? "127.0.0.1:" + dropFirst("localhost:".count) : self
    }
}

/// The download's progress: a bar redrawn in place on a terminal (percent, rate, ETA, peers),
/// otherwise a structured line every 5 s.
final class DownloadProgress {
    private let torrent: Torrent
    private let session: Session
    private let total: Int64
    private let terminal = Terminal.stderrIsTerminal
    private let started = ContinuousClock.now
    private var ticks = 0

    init(torrent: Torrent, session: Session, total: Int64) {
        self.torrent = torrent
        self.session = session
        self.total = max(total, 1)
    }

    var elapsedSeconds: Double { (ContinuousClock.now - started).inSeconds }

    func tick() {
        ticks += 1
        let left = torrent.bytesLeft
        let done = total - left
        let status = session.status
        let fraction = min(max(Double(done) / Double(total), 0), 1)
        let percent = String(Int(fraction * 1000)).leftPadded(to: 2)
        let percentText = "\(percent.dropLast()).\(percent.last!)%"
        let rate = status.downloadRate
        let eta = rate > 0 ? Format.duration(Double(left) / Double(rate)) : "--"
        let paused = torrent.pausedReason.map { "  PAUSED: \($0)" } ?? ""
        if terminal {
            Terminal.writeError(
                "\r[\(ProgressBar.bar(fraction))] \(percentText) \(Format.bytes(done))/\(Format.bytes(total))  down \(Format.bytes(Int64(rate)))/s  up \(Format.bytes(Int64(status.uploadRate)))/s  ETA \(eta)  peers \(status.peers)\(paused)\u{1B}[K"
            )
        } else if ticks % 5 == 0 {
            print(
                "progress percent=\(percentText.dropLast()) done_bytes=\(done) left_bytes=\(left) download_bytes_per_s=\(rate) upload_bytes_per_s=\(status.uploadRate) peers=\(status.peers)\(torrent.pausedReason != nil ? " paused=yes" : "")"
            )
            fflush(nil)
        }
    }

    func finish() {
        if terminal { Terminal.writeError("\n") }
    }
}

/// The metadata fetch's progress: peers and pieces, in place on a terminal, otherwise a line
/// every 5 s.
final class MetadataProgress {
    private let fetch: MetadataFetch
    private let terminal = Terminal.stderrIsTerminal
    private var ticks = 0

    init(fetch: MetadataFetch) { self.fetch = fetch }

    func tick() {
        ticks += 1
        let (have, of) = fetch.progress
        let waiting = fetch.isWaitingForPeers ? "  waiting for peers to connect in" : ""
        if terminal {
            Terminal.writeError("\rfetching metadata: \(have)/\(of) pieces  peers \(fetch.peerCount)\(waiting)\u{1B}[K")
        } else if ticks % 5 == 0 {
            print("metadata pieces=\(have) of=\(of) peers=\(fetch.peerCount)\(fetch.isWaitingForPeers ? " waiting=yes" : "")")
            fflush(nil)
        }
    }

    func finish() {
        if terminal { Terminal.writeError("\n") }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
