import ArgumentParser
import Client

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent tracker`: the embedded HTTP tracker on its own.
struct TrackerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracker",
        abstract: "Run an HTTP tracker (announce and scrape, compact IPv4/IPv6 peers).",
        discussion: """
            Serves http://HOST:PORT/announce and /scrape until Ctrl-C or SIGTERM. By default any
            torrent may use it; --allow and --allow-torrent restrict it to a list (repeatable).
            Peers that miss an announce interval are forgotten.
            """)

    @Option(help: "Port to listen on.")
    var port: UInt16 = 6969

    @Option(help: "Address to listen on (default: all interfaces).")
    var bind = "0.0.0.0"

    @Option(help: "Allow only this info hash (40 hex digits; repeatable).")
    var allow: [String] = []

    @Option(help: "Allow only the torrent in this .torrent file (repeatable).")
    var allowTorrent: [String] = []

    @Option(help: "Seconds between announces asked of clients.")
    var interval = 1800

    @Flag(help: "Log announces (info level).")
    var verbose = false

    func run() throws {
        let log = Log(minimum: verbose ? .info : .warn)
        guard let address = SocketAddress(host: bind, port: port) else { throw fail("--bind \(bind) is not an IP address") }
        guard interval >= 60 else { throw fail("--interval must be at least 60 seconds") }
        var allowed: Set<InfoHash> = []
        for text in allow {
            guard text.count == 40, let hash = InfoHash(text: text) else { throw fail("--allow \(text) is not a 40-digit hex info hash") }
            allowed.insert(hash)
        }
        for path in allowTorrent {
            do { allowed.insert(try MetainfoLoader.load(path).infoHash) } catch { throw fail(error.description) }
        }
        let tracker: TrackerHost
        do {
            tracker = try TrackerHost(address: address, allowed: allowed.isEmpty ? nil : allowed, interval: .seconds(interval), log: log)
        } catch { throw fail("cannot listen on \(address): \(error) (choose another --port)") }
        let host = bind == "0.0.0.0" || bind == "::" ? SocketAddress.firstExternalIPv4() ?? "127.0.0.1" : bind
        print("tracker   \(tracker.announceURL(host: host))")
        print("torrents  \(allowed.isEmpty ? "any" : "\(allowed.count) allowed")")
        fflush(nil)
        tracker.runUntilSignal()
        print("announces \(tracker.announces)")
    }
}
