/// Open files for serving blocks, at most `capacity` at once, least recently used closed first,
/// so a torrent of thousands of files cannot exhaust descriptors. An evicted file stays open
/// until the blocks already queued from it have been sent, and while it does it is used again
/// rather than opened a second time: a thousand busy torrents behind a cache of 512 otherwise
/// opened the same files over and over (6,500 descriptors at 18,000 peers, then EMFILE). Loop
/// thread only.
public final class OpenFileCache {
    private final class Node {
        let path: String
        let file: OpenFile
        var newer: Node?
        // Not weak: a weak reference gives the node a side table, and every retain and release of
        // it then takes the slow path (relinking was 4 % of serving a 24-file tree). A node is in
        // the list only while `nodes` holds it.
        unowned(unsafe) var older: Node?
        init(path: String, file: OpenFile) {
            self.path = path
            self.file = file
        }
    }

    private struct Lingering {
        weak var file: OpenFile?
    }

    private var nodes: [String: Node] = [:]
    /// Files evicted for room that queued blocks still hold open.
    private var lingering: [String: Lingering] = [:]
    private var newest: Node?
    private var oldest: Node?
    /// The most files held open at once.
    public let capacity: Int
    /// How opened files queue their blocks.
    public let mode: PayloadMode
    /// How many opens the cache has done (a miss costs one).
    public private(set) var opens = 0

    /// A cache of up to `capacity` files opened in `mode`.
    public init(capacity: Int, mode: PayloadMode = .mappedReference) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.mode = mode
    }

    /// How many files are open now.
    public var count: Int { nodes.count }

    /// The open file at `path`, opening it (and closing the least recently used) if needed.
    public func file(at path: String) throws(SystemError) -> OpenFile {
        // Most blocks come from the file the last one did: no hashing of the path, no relinking
        // (2 % of a busy seeder when the list's links were weak). Another hit only relinks.
        if let newest, newest.path == path { return newest.file }
        if let node = nodes[path] {
            unlink(node)
            append(node)
            return node.file
        }
        let file: OpenFile
        if let alive = lingering.removeValue(forKey: path)?.file {
            file = alive
        } else {
            file = try OpenFile(path: path, mode: mode)
            opens += 1
        }
        let node = Node(path: path, file: file)
        nodes[path] = node
        append(node)
        if nodes.count > capacity, let victim = oldest {
            remove(victim)
            lingering[victim.path] = Lingering(file: victim.file)
            if lingering.count > 2 * capacity { lingering = lingering.filter { $0.value.file != nil } }
        }
        return file
    }

    /// Forgets `path` (after the file changed on disk, say); queued blocks keep their copy alive.
    public func evict(_ path: String) {
        if let node = nodes[path] { remove(node) }
        lingering.removeValue(forKey: path)
    }

    /// The open paths, newest first (for tests).
    var pathsNewestFirst: [String] {
        var paths: [String] = []
        var node = newest
        while let current = node {
            paths.append(current.path)
            node = current.older
        }
        return paths
    }

    private func append(_ node: Node) {
        node.older = newest
        node.newer = nil
        newest?.newer = node
        newest = node
        if oldest == nil { oldest = node }
    }

    /// Takes `node` out of the list and out of `nodes`.
    private func remove(_ node: Node) {
        unlink(node)
        nodes.removeValue(forKey: node.path)
    }

    /// Takes `node` out of the list only (relinking needs no hashing of its path).
    private func unlink(_ node: Node) {
        if let older = node.older { older.newer = node.newer } else { oldest = node.newer }
        if let newer = node.newer { newer.older = node.older } else { newest = node.older }
        node.newer = nil
        node.older = nil
    }
}

@available(*, unavailable)
extension OpenFileCache: Sendable {}
