/// A value kept out of line: a holder pays 8 bytes while it has none, not the value's size (an
/// `Optional` of a struct takes the whole struct's room even when nil).
final class OutOfLine<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}
