import Reactor
import TorrentCore

// Magnets in the session: fetching their metadata, taking in peers that connect for them, and
// turning a finished fetch into a torrent that keeps its connections.
extension Session {
    /// Adds the torrent a magnet's fetch found (`have` nil: hash-checked first), taking over the
    /// fetch's trackers and peers: the announces go on, and every peer it knew is dialled at once.
    @discardableResult
    public func add(_ metainfo: Metainfo, location: ContentLocation, have: Bitfield?, options: TorrentOptions, handingOver fetch: MetadataFetch) -> Torrent {
        if fetches[fetch.link.infoHash] === fetch { fetches.removeValue(forKey: fetch.link.infoHash) }
        precondition(fetch.link.infoHash == metainfo.infoHash)
        let (sources, handovers) = fetch.end()
        let torrent = add(metainfo, location: location, checked: have, options: options, sources: sources)
        for handover in handovers {
            let peer = PeerConnection(session: self, key: newKey(), connection: handover.connection, outgoing: handover.outgoing ? torrent : nil)
            handover.connection.attach(peer)
            connections.insert(peer, incoming: !handover.outgoing)
            peer.joinHandedOver(handover)
        }
        return torrent
    }

    /// Starts fetching a magnet link's metadata from its trackers, its `x.pe` peers and `peers`,
    /// and from peers that connect in; `MetadataFetch.finished` hears the result. A fetch of the
    /// same info hash already running is returned as is.
    public func fetchMetadata(_ link: MagnetLink, peers: [SocketAddress] = []) -> MetadataFetch {
        if let existing = fetches[link.infoHash] { return existing }
        let named = link.peers.compactMap { SocketAddress(parsing: $0) }
        let fetch = MetadataFetch(session: self, link: link, peers: named + peers)
        fetches[link.infoHash] = fetch
        indexForEncryption(link.infoHash)
        fetch.start()
        return fetch
    }

    /// Stops fetching a magnet's metadata (its trackers hear `stopped`).
    public func cancelFetch(_ infoHash: InfoHash) {
        fetches.removeValue(forKey: infoHash)?.cancel()
        indexForEncryption(infoHash)
    }

    /// An incoming connection's handshake named a magnet being fetched: the fetch takes it over
    /// (with the bytes read past the handshake). False if no fetch wants it.
    func adoptForMetadata(_ peer: PeerConnection, _ connection: any Connection, handshake: Handshake, rest: ByteQueue) -> Bool {
        guard let fetch = fetches[handshake.infoHash] else { return false }
        connections.remove(peer)
        fetch.adopt(connection, handshake: handshake, rest: rest)
        return true
    }
}
