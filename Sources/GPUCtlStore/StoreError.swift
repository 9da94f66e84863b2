/// A store failure, phrased for the person who runs the daemon: what failed, why, what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// Set when the store refused vectors for a collection of another model or length: the
    /// caller's mistake, not the store's.
    public var mismatch: CollectionMismatch?
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
