/// A store failure, phrased for the person who runs the daemon: what failed, why, what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
