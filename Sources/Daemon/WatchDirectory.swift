import Client
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// `watch-dir`: every `.torrent` dropped there is added (into `download-dir`) and then renamed
/// `.torrent.added`, as transmission-daemon does; one that does not parse becomes `.torrent.invalid`
/// with a warning. The directory is listed every few seconds rather than watched through inotify:
/// a poll cannot miss a file, however many arrive at once.
final class WatchDirectory {
    static let interval: Duration = .seconds(2)
    private unowned let daemon: Daemon
    private var timer: TimerHandle?

    init(daemon: Daemon) { self.daemon = daemon }

    /// Starts or stops watching as the settings say.
    func apply(_ settings: DaemonSettings) {
        timer?.cancel()
        timer = nil
        guard settings.bool("watch-dir-enabled"), !settings.string("watch-dir").isEmpty else { return }
        let directory = settings.string("watch-dir")
        timer = daemon.loop.scheduleRepeating(every: Self.interval) { [weak self] in self?.scan(directory) }
        scan(directory)
    }

    private func scan(_ directory: String) {
        guard let names = try? FileContents.list(directory) else { return }
        for name in names.sorted() where name.hasSuffix(".torrent") {
            let path = directory + "/" + name
            guard let bytes = try? FileContents.read(path, limit: Int(MetainfoLoader.maxTorrentFileBytes)) else { continue }
            let result = daemon.addTorrent(bytes, directory: daemon.settings.string("download-dir"), paused: false, labels: [])
            let suffix: String
            switch result {
            case .success: suffix = ".added"
            case .failure(let failure):
                suffix = ".invalid"
                daemon.log.warn("watch_dir_invalid", [("file", path), ("reason", failure.message)])
            }
            rename(path, path + suffix)
        }
    }
}
