import Reactor

/// A `Scheduler` on virtual time: nothing runs until the test calls `advance(by:)`
/// (NIO's EmbeddedEventLoop). Tasks run in deadline order, ties in the order they were scheduled.
public final class ManualLoop: Scheduler {
    private struct Entry {
        let id: Int
        var deadline: ContinuousClock.Instant
        let interval: Duration?
        let task: () -> Void
    }

    private var entries: [Entry] = []
    private var nextID = 0
    /// The virtual time; it only moves in `advance(by:)`.
    public private(set) var now: ContinuousClock.Instant

    /// A loop whose clock starts at an arbitrary instant.
    public init() { now = ContinuousClock.now }

    @discardableResult
    public func schedule(after delay: Duration, _ task: @escaping () -> Void) -> TimerHandle {
        add(Entry(id: nextID, deadline: now + delay, interval: nil, task: task))
    }

    @discardableResult
    public func scheduleRepeating(every interval: Duration, _ task: @escaping () -> Void) -> TimerHandle {
        precondition(interval > .zero, "a repeating task needs a positive interval")
        return add(Entry(id: nextID, deadline: now + interval, interval: interval, task: task))
    }

    /// How many tasks wait.
    public var pendingCount: Int { entries.count }

    /// Moves time forward by `duration`, running every task that falls due, at its own deadline.
    public func advance(by duration: Duration) {
        let target = now + duration
        while let index = nextDue(by: target) {
            var entry = entries.remove(at: index)
            now = max(now, entry.deadline)
            if let interval = entry.interval {
                entry.deadline = entry.deadline + interval
                entries.append(entry)
            }
            entry.task()
        }
        now = target
    }

    /// Runs the tasks due now (scheduled with a zero delay).
    public func runPending() { advance(by: .zero) }

    private func add(_ entry: Entry) -> TimerHandle {
        nextID += 1
        entries.append(entry)
        let id = entry.id
        return TimerHandle(
            cancel: { [weak self] in self?.entries.removeAll { $0.id == id } },
            isActive: { [weak self] in self?.entries.contains { $0.id == id } ?? false })
    }

    private func nextDue(by target: ContinuousClock.Instant) -> Int? {
        var best: Int?
        for (index, entry) in entries.enumerated() where entry.deadline <= target {
            if let current = best,
                entries[current].deadline < entry.deadline
                    || (entries[current].deadline == entry.deadline && entries[current].id < entry.id)
            {
                continue
            }
            best = index
        }
        return best
    }
}
