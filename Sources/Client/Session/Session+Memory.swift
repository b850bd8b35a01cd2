import Reactor

/// Giving the heap back (glibc `malloc_trim`). `SessionHost.prepareProcess` raises the trim
/// threshold so the payload path does not fault memory in and out; these trims, from a 5 s timer,
/// keep what departed peers and rechokes freed from staying resident. None follows a rechoke: one
/// each second after a thousand torrents' rechokes (18 peers each) gave the whole heap's free
/// pages back only to fault them in again, 13,000 page faults a second under 18,000 peers.
extension Session {
    /// Trims the heap every sixth call (30 s), and in each of the two calls after a burst of
    /// connections (256 or more opened or closed within a call's 5 s) has settled: handshakes
    /// still finishing at the first free more by the second.
    func releaseMemoryIfDue() {
        trimChecks += 1
        let busy = connectionsSinceTrim >= 256
        connectionsSinceTrim = 0
        if busy { settleTrims = 2 }
        guard trimChecks >= 6 || (!busy && settleTrims > 0) else { return }
        if !busy && settleTrims > 0 { settleTrims -= 1 }
        trimChecks = 0
        ResourceLimits.releaseFreeMemory()
    }

    /// A box holding `options`: the one the last torrent got if equal (torrents added together
    /// mostly run with the same options), else a new one.
    func shared(_ options: TorrentOptions) -> Box<TorrentOptions> {
        if let lastOptions, lastOptions.value == options { return lastOptions }
        let made = Box(options)
        lastOptions = made
        return made
    }
}
