/// Bytes per second over recent seconds: each `sample()` (once a second) folds the last second in
/// with weight one half, so a peer that stops sending fades out within a few seconds and a new
/// fast one is trusted after two.
public struct RateMeter: Sendable {
    /// The smoothed rate, in bytes per second.
    public private(set) var rate = 0
    private var thisSecond = 0

    /// A meter at zero.
    public init() {}

    /// Counts `bytes` toward the current second.
    public mutating func add(_ bytes: Int) { thisSecond += bytes }

    /// Ends the current second.
    public mutating func sample() {
        rate = (rate + thisSecond) / 2
        thisSecond = 0
    }
}
