import ArgumentParser

/// `evtorrent`: the command line's root.
@main
struct EvtorrentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evtorrent",
        abstract: "A BitTorrent client for seeding boxes: seed and download, make, inspect and verify torrents.",
        version: "0.1.0",
        subcommands: [SeedCommand.self, DownloadCommand.self, DaemonCommand.self, CreateCommand.self, TrackerCommand.self, InfoCommand.self, VerifyCommand.self, BenchCommand.self])
}

/// Prints `evtorrent: <message>` on standard error and exits with status 1.
func fail(_ message: String) -> ExitCode {
    Terminal.writeError("evtorrent: \(message)\n")
    return ExitCode.failure
}
