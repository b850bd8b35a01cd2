/// A value kept out of line: a holder pays 8 bytes while it has none, not the value's size (an
/// `Optional` of a struct takes the whole struct's room even when nil).
final class OutOfLine<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// A value kept out of line and never changed (a change puts a new box in), so holders of equal
/// values can share one: a torrent's options, a daemon torrent's settings.
public final class Box<Value: Sendable>: Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
