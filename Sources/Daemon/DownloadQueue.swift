import Client

/// Transmission's download queue (`download-queue-enabled`, `download-queue-size`; on with 5 by
/// default, as in transmission-daemon): at most that many torrents download at once, in queue
/// order. The others wait stopped, shown as queued (status 3), and start first-in-queue first as
/// places free up: a download finishes, is stopped or removed, the queue is reordered or made
/// longer. `torrent-start-now` starts one past the queue. Seeding is never queued.
extension Daemon {
    /// Starts and stops torrents so that the first `download-queue-size` wanting to download do.
    /// Walks the torrents once (O(n log n) in those downloading or queued), on RPC changes and
    /// every two seconds (a download that finished frees its place).
    func updateDownloadQueue() {
        let enabled = settings.bool("download-queue-enabled")
        let size = max(0, settings.integer("download-queue-size"))
        var wanting: [DaemonTorrent] = []
        for entry in torrents.values {
            if entry.isQueued {
                // Found complete meanwhile (or everything in it unwanted): it seeds instead.
                if entry.torrent.wantedBytes.missing == 0 { setQueued(entry, false) } else { wanting.append(entry) }
            } else if entry.torrent.phase == .running, entry.torrent.isDownloading, !entry.startedNow {
                wanting.append(entry)
            }
        }
        wanting.sort { $0.queuePosition < $1.queuePosition }
        for (rank, entry) in wanting.enumerated() {
            let mayRun = !enabled || rank < size
            if mayRun == entry.isQueued { setQueued(entry, !mayRun) }
        }
    }

    /// Holds `entry` back in the queue (stopped) or lets it run.
    private func setQueued(_ entry: DaemonTorrent, _ queued: Bool) {
        entry.isQueued = queued
        if queued { session.stop(entry.infoHash) } else { session.start(entry.infoHash) }
    }
}
