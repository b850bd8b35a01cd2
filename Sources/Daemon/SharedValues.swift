import Reactor

/// One copy of what many torrents hold alike: their download folder and their tracker tiers (a
/// private tracker's announce URL, passkey and all, is the same in every torrent from it). Ten
/// thousand torrents then keep one string, not ten thousand. Safe on the loading pool's threads.
final class SharedValues: @unchecked Sendable {
    private let lock = ConditionLock()
    private var strings: Set<String> = []
    private var tierLists: Set<[[String]]> = []
    /// Distinct values kept at most; past it the table starts again (what was shared stays shared).
    static let capacity = 1 << 16

    /// The copy kept of a string equal to `value` (`value` itself the first time).
    func string(_ value: String) -> String { lock.withLock { Self.keep(value, in: &strings) } }

    /// The copy kept of tiers equal to `value`, its strings shared too.
    func tiers(_ value: [[String]]) -> [[String]] {
        if value.isEmpty { return value }
        return lock.withLock {
            if let kept = tierLists.firstIndex(of: value) { return tierLists[kept] }
            return Self.keep(value.map { $0.map { Self.keep($0, in: &strings) } }, in: &tierLists)
        }
    }

    private static func keep<Value: Hashable>(_ value: Value, in set: inout Set<Value>) -> Value {
        if set.count >= capacity { set.removeAll() }
        return set.insert(value).memberAfterInsert
    }
}
