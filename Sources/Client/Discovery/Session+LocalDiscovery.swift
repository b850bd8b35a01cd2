import Reactor
import TorrentCore

// Local service discovery (BEP 14) as the session runs it: on and off, what it announces, and
// where the peers it hears of go.
extension Session {
    /// Turns local service discovery on or off.
    public func setLSDEnabled(_ enabled: Bool) {
        options.lsdEnabled = enabled
        if !enabled {
            lsd?.close()
            lsd = nil
        } else if lsd == nil, let eventLoop, !isShutDown {
            lsd = LocalServiceDiscovery(session: self, loop: eventLoop)
        }
    }

    /// What local service discovery announces: running public torrents and the magnets fetched.
    var locallyAnnounced: [InfoHash] {
        torrents.values.filter { $0.phase == .running && !$0.metainfo.info.isPrivate }.map(\.metainfo.infoHash) + Array(fetches.keys)
    }

    /// A peer on the local network announced `infoHash`: its torrent (public) or fetch dials it.
    func foundLocally(_ infoHash: InfoHash, at peer: SocketAddress) {
        guard peer != listenAddress else { return }
        if let torrent = torrents[infoHash] {
            if !torrent.metainfo.info.isPrivate { torrent.addPeers([peer], from: .lsd) }
        } else if let fetch = fetches[infoHash] {
            fetch.sources.add([peer], from: .lsd)
            fetch.dial()
        }
    }
}
