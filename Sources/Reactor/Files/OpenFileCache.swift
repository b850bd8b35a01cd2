/// Open files for serving blocks, at most `capacity` at once, least recently used closed first,
/// so a torrent of thousands of files cannot exhaust descriptors. An evicted file stays open
/// until the blocks already queued from it have been sent. Loop thread only.
public final class OpenFileCache {
    private final class Node {
        let path: String
        let file: OpenFile
        var newer: Node?
        weak var older: Node?
        init(path: String, file: OpenFile) {
            self.path = path
            self.file = file
        }
    }

    private var nodes: [String: Node] = [:]
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
        if let node = nodes[path] {
            moveToNewest(node)
            return node.file
        }
        let file = try OpenFile(path: path, mode: mode)
        opens += 1
        let node = Node(path: path, file: file)
        nodes[path] = node
        append(node)
        if nodes.count > capacity, let victim = oldest { remove(victim) }
        return file
    }

    /// Forgets `path` (after the file changed on disk, say); queued blocks keep their copy alive.
    public func evict(_ path: String) {
        if let node = nodes[path] { remove(node) }
    }

    private func append(_ node: Node) {
        node.older = newest
        node.newer = nil
        newest?.newer = node
        newest = node
        if oldest == nil { oldest = node }
    }

    private func remove(_ node: Node) {
        if let older = node.older { older.newer = node.newer } else { oldest = node.newer }
        if let newer = node.newer { newer.older = node.older } else { newest = node.older }
        node.newer = nil
        node.older = nil
        nodes.removeValue(forKey: node.path)
    }

    private func moveToNewest(_ node: Node) {
        guard newest !== node else { return }
        remove(node)
        nodes[node.path] = node
        append(node)
    }
}

@available(*, unavailable)
extension OpenFileCache: Sendable {}
