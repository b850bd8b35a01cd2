import ArgumentParser
import Bench
import Client
import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent bench`: a swarm of local leechers against any seeder.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a swarm of local leechers against a seeder and report throughput and cost.",
        discussion: """
            Each peer connects from its own loopback address (127.1.x.y), so seeders that limit
            connections per IP accept them all. Modes: download (every peer fetches the whole
            torrent, or until --duration), idle (connect, handshake, interested, hold; reports how
            many the seeder kept), churn (connect, fetch --churn-blocks blocks, disconnect, repeat).
            With --seeder-pid, the seeder's CPU seconds per GiB served and its RSS come from /proc.
            """)

    @Option(help: "The torrent the seeder serves; repeat it (or name a directory of .torrent files) to spread the peers evenly over several.")
    var torrent: [String]

    @Option(help: "The seeder's address, HOST:PORT.")
    var seeder: String

    @Option(help: "Number of leechers.")
    var peers = 50

    @Option(help: "download, idle or churn.")
    var mode = "download"

    @Option(help: "Requests in flight per peer.")
    var queue = 64

    @Option(help: "Stop after this many seconds (needed for idle and churn).")
    var duration: Double?

    @Option(help: "Seconds of ramp-up not measured: throughput, per-peer rates and seeder CPU count from then on (seeders that unchoke only at their next rechoke are measured in steady state).")
    var warmup: Double = 0

    @Option(help: "Blocks per connection in churn mode.")
    var churnBlocks = 16

    @Option(help: "Seconds a churn peer waits before connecting again.")
    var churnPause = 0.0

    @Flag(help: "Check every piece's SHA-1.")
    var verify = false

    @Flag(help: "Handshake without the extension-protocol and fast-extension bits.")
    var noExtensions = false

    @Flag(help: "Connect with MSE/PE and RC4, as peers that require encryption do.")
    var encrypted = false

    @Option(help: "The seeder's process id, for its CPU and memory.")
    var seederPid: Int32?

    @Flag(help: "Print the report as OutputJSON.")
    var json = false

    func run() throws {
        _ = ResourceLimits.raiseOpenFileLimit()
        ResourceLimits.tuneAllocator()
        var torrents: [Metainfo] = []
        for path in torrent {
            let files: [String]
            if (try? FileStatus.of(path))??.kind == .directory {
                files = ((try? FileContents.list(path)) ?? []).filter { $0.hasSuffix(".torrent") }.sorted().map { path + "/" + $0 }
            } else {
                files = [path]
            }
            for file in files {
                do { torrents.append(try MetainfoLoader.load(file)) } catch { throw fail(error.description) }
            }
        }
        guard !torrents.isEmpty else { throw fail("no torrent given (--torrent FILE or a directory of .torrent files)") }
        guard let address = SocketAddress(parsing: seeder) else { throw fail("--seeder must be HOST:PORT with a numeric host") }
        guard let benchMode = BenchMode(rawValue: mode) else { throw fail("--mode must be download, idle or churn") }
        if benchMode != .download && duration == nil { throw fail("--duration is required in \(mode) mode") }
        if warmup > 0 && (duration ?? 0) <= warmup { throw fail("--warmup needs a --duration longer than it") }
        var options = BenchOptions(seeder: address)
        options.peers = peers
        options.mode = benchMode
        options.queue = max(1, queue)
        options.duration = duration.map { .milliseconds(Int64($0 * 1000)) }
        options.verify = verify
        options.extensions = !noExtensions
        options.encrypted = encrypted
        options.churnBlocks = churnBlocks
        options.churnPause = .milliseconds(Int(churnPause * 1000))

        let loop: EventLoop
        do { loop = try EventLoop() } catch { throw fail(error.description) }
        let pool = WorkerPool(threads: WorkerPool.coreCount)
        defer { pool.shutdown() }
        let swarm = BenchSwarm(loop: loop, torrents: torrents, options: options, pool: pool)
        var before = seederPid.flatMap { ProcessUsage.of(pid: $0) }
        var started = loop.now
        var baseline = Baseline()
        if warmup > 0 {
            loop.schedule(after: .milliseconds(Int64(warmup * 1000))) {
                before = seederPid.flatMap { ProcessUsage.of(pid: $0) }
                started = loop.now
                baseline = Baseline(bytes: swarm.totalBytes, peerBytes: swarm.peerBytes, active: true)
            }
        }
        var ended: ContinuousClock.Instant?
        let finish = {
            guard ended == nil else { return }
            ended = loop.now
            loop.stop()
        }
        swarm.allFinished = finish
        let target = (0..<peers).reduce(Int64(0)) { $0 + torrents[$1 % torrents.count].info.totalLength }
        let bar = ProgressBar(label: "bench", total: benchMode == .download ? target : 1)
        let terminal = Terminal.stderrIsTerminal
        loop.scheduleRepeating(every: .seconds(1)) {
            let rate = swarm.takeSecondBytes()
            if terminal {
                bar.update(bytesDone: benchMode == .download ? swarm.totalBytes : 0)
                Terminal.writeError("  open \(swarm.openCount)/\(options.peers) done \(swarm.finishedCount) last 1s \(Format.bytes(rate))/s\u{1B}[K")
            }
        }
        if let duration = options.duration { loop.schedule(after: duration, finish) }
        loop.watchSignal(SIGINT, finish)
        swarm.start()
        loop.run()
        let after = seederPid.flatMap { ProcessUsage.of(pid: $0) }
        let kept = swarm.openCount
        let stalled = swarm.churnStalled(longerThan: .seconds(10))
        // Let the last piece hashes come back from the pool before reporting.
        loop.run(until: { swarm.pendingVerifications == 0 }, timeout: .seconds(30))
        swarm.stop()
        bar.finish()
        report(swarm, elapsed: (ended ?? loop.now) - started, baseline: baseline, before: before, after: after, kept: kept, stalled: stalled)
    }

    /// What had arrived when the warm-up ended.
    private struct Baseline {
        var bytes: Int64 = 0
        var peerBytes: [Int64] = []
        var active = false
    }

    private func report(
        _ swarm: BenchSwarm, elapsed: Duration, baseline: Baseline, before: ProcessUsage?, after: ProcessUsage?, kept: Int,
        stalled: Int
    ) {
        let seconds = elapsed.inSeconds
        let measured = swarm.totalBytes - baseline.bytes
        let mib = Double(measured) / 1_048_576
        let rates =
            (baseline.active
            ? swarm.perPeerRates(since: baseline.peerBytes, window: elapsed) : swarm.perPeerRates(elapsed: elapsed)).sorted()
        func pick(_ fraction: Double) -> Double { rates.isEmpty ? 0 : rates[min(rates.count - 1, Int(Double(rates.count - 1) * fraction))] }
        let ttfb = swarm.timesToFirstByte.map(\.inSeconds).sorted()
        let cpu = before.flatMap { b in after.map { $0.cpuSeconds - b.cpuSeconds } }
        let gib = Double(measured) / Double(1 << 30)
        let fields: [(String, OutputJSON)] = [
            ("mode", .string(mode)), ("peers", .number(Int64(peers))), ("seconds", .string(fixed(seconds))),
            ("bytes", .number(measured)), ("aggregate_mib_per_s", .string(fixed(mib / max(seconds, 1e-9)))),
            ("per_peer_mib_per_s_min", .string(fixed(pick(0) / 1_048_576))),
            ("per_peer_mib_per_s_median", .string(fixed(pick(0.5) / 1_048_576))),
            ("per_peer_mib_per_s_max", .string(fixed(pick(1) / 1_048_576))),
            ("time_to_first_byte_median_s", .string(fixed(ttfb.isEmpty ? 0 : ttfb[ttfb.count / 2]))),
            ("connections_made", .number(Int64(swarm.connectionsMade))), ("connections_accepted", .number(Int64(swarm.accepted))),
            ("connections_open_at_end", .number(Int64(kept))), ("dropped_by_seeder", .number(Int64(swarm.droppedBySeeder))),
            ("peers_finished", .number(Int64(swarm.finishedCount))), ("chokes", .number(Int64(swarm.chokes))),
            ("pieces_verified", .number(Int64(swarm.piecesVerified))), ("hash_failures", .number(Int64(swarm.hashFailures))),
            ("churn_cycles", .number(Int64(swarm.churnCycles))),
            ("churn_cut_short", .number(Int64(swarm.churnCutShort))),
            ("churn_longest_s", .string(fixed(swarm.churnLongest.inSeconds))),
            ("churn_stalled_over_10s", .number(Int64(stalled))),
            ("seeder_cpu_s", cpu.map { .string(fixed($0)) } ?? .null),
            ("seeder_cpu_s_per_gib", cpu.map { .string(fixed(gib > 0 ? $0 / gib : 0)) } ?? .null),
            ("seeder_rss_kib", after.map { .number(Int64($0.residentKiB)) } ?? .null),
            ("seeder_rss_anon_kib", after.map { .number(Int64($0.anonymousKiB)) } ?? .null),
        ]
        if json {
            print(OutputJSON.object(fields).rendered())
            return
        }
        for (name, value) in fields {
            let text: String
            switch value {
            case .string(let string): text = string
            case .number(let number): text = String(number)
            case .null: continue
            default: text = value.rendered()
            }
            print("\(name.padding(to: 30)) \(text)")
        }
    }

    private func fixed(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return String(scaled)
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
