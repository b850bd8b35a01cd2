/// A peer's requests in arrival order. Served from the front by moving an index, not by shifting
/// the array (once per block served); the served part is dropped when it outgrows the rest.
struct RequestQueue {
    private var storage: [BlockRequest] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    var elements: [BlockRequest] { Array(storage[head...]) }

    func contains(_ request: BlockRequest) -> Bool { storage[head...].contains(request) }

    mutating func append(_ request: BlockRequest) {
        if head > 0 && head >= storage.count - head {
            storage.removeFirst(head)
            head = 0
        }
        storage.append(request)
    }

    /// The oldest request; the queue must not be empty.
    mutating func popFirst() -> BlockRequest {
        defer { head += 1 }
        return storage[head]
    }

    /// Removes `request`; false if it was not queued.
    mutating func remove(_ request: BlockRequest) -> Bool {
        guard let index = storage[head...].firstIndex(of: request) else { return false }
        storage.remove(at: index)
        return true
    }
}
