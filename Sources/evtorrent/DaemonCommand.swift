import ArgumentParser
import Client
import Daemon

#if canImport(Glibc)
    import Glibc
#endif

/// `evtorrent daemon`: every torrent of the box in one process, driven over the Transmission RPC.
struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run every torrent in one process, driven over the Transmission RPC.",
        discussion: """
            Serves the Transmission RPC at http://HOST:9091/transmission/rpc, so transmission-remote
            and other Transmission clients drive it unchanged. State lives in the config directory:
            settings.json (Transmission's key names; options given here are written into it), and
            each torrent with its resume file. A restart trusts resume data whose files are unchanged
            and checks the others without blocking the RPC. Stop with Ctrl-C or SIGTERM: resume files
            are written and trackers hear 'stopped'.
            """)

    @Option(help: "The config directory (default: ~/.config/evtorrent).")
    var configDir: String?

    @Option(help: "RPC port (settings.json: rpc-port, default 9091).")
    var rpcPort: Int?

    @Option(help: "RPC address (settings.json: rpc-bind-address, default 0.0.0.0).")
    var rpcBind: String?

    @Option(help: "Peer port (settings.json: peer-port, default 51413).")
    var peerPort: Int?

    @Option(help: "Where new torrents' data goes (settings.json: download-dir).")
    var downloadDir: String?

    @Option(help: "Add every .torrent dropped in this directory (settings.json: watch-dir, watch-dir-enabled).")
    var watchDir: String?

    @Option(help: "Serve the web client from this directory (default: $TRANSMISSION_WEB_HOME, else /usr/share/transmission/web).")
    var webRoot: String?

    @Flag(help: "Log torrent events (info level).")
    var verbose = false

    @Flag(help: "Log everything (debug level).")
    var debug = false

    func run() throws {
        let log = Log(minimum: debug ? .debug : verbose ? .info : .warn)
        _ = SessionHost.prepareProcess()
        let environment = ProcessEnvironment.all()
        let home = environment["HOME"] ?? "/root"
        let directory = configDir ?? (environment["XDG_CONFIG_HOME"].map { $0 + "/evtorrent" } ?? home + "/.config/evtorrent")
        var overrides: [(String, JSON)] = []
        if let rpcPort { overrides.append(("rpc-port", .integer(Int64(rpcPort)))) }
        if let rpcBind { overrides.append(("rpc-bind-address", .string(rpcBind))) }
        if let peerPort { overrides.append(("peer-port", .integer(Int64(peerPort)))) }
        if let downloadDir { overrides.append(("download-dir", .string(downloadDir))) }
        if let watchDir { overrides += [("watch-dir", .string(watchDir)), ("watch-dir-enabled", .bool(true))] }
        let daemon: Daemon
        let web = webRoot ?? environment["TRANSMISSION_WEB_HOME"] ?? "/usr/share/transmission/web"
        do { daemon = try Daemon(configDirectory: directory, overrides: overrides, home: home, webRoot: web, log: log) } catch {
            throw fail(error.description)
        }
        print("config    \(directory)")
        print("torrents  \(daemon.torrentCount)")
        print("peers     \(daemon.peerAddress)")
        print("rpc       http://\(daemon.rpcAddress?.description ?? "?")/transmission/rpc")
        print("web       http://\(daemon.rpcAddress?.description ?? "?")/transmission/web/")
        fflush(nil)
        daemon.run()
        print("stopped")
    }
}
