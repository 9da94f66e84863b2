/// One pretend card that the fake Ollama and fake ComfyUI both charge, so tests can check
/// the invariant that matters: what is allocated never exceeds the total.
public actor VirtualGPU {
    public let totalBytes: UInt64
    public let name: String
    private var allocations: [String: UInt64] = [:]
    /// The most ever allocated at once.
    public private(set) var peakBytes: UInt64 = 0

    public init(totalBytes: UInt64, name: String = "Virtual RTX 4090") {
        self.totalBytes = totalBytes
        self.name = name
    }

    public var usedBytes: UInt64 { allocations.values.reduce(0, +) }
    public var freeBytes: UInt64 { totalBytes - min(totalBytes, usedBytes) }

    /// Charges `bytes` to `owner` (replacing what it held). Returns false, changing nothing,
    /// when it does not fit: a real card would fail the allocation.
    @discardableResult
    public func allocate(_ owner: String, bytes: UInt64) -> Bool {
        let others = usedBytes - (allocations[owner] ?? 0)
        guard others + bytes <= totalBytes else { return false }
        allocations[owner] = bytes
        peakBytes = max(peakBytes, usedBytes)
        return true
    }

    public func release(_ owner: String) {
        allocations[owner] = nil
    }

    /// Every owner and its bytes.
    public var holders: [String: UInt64] { allocations }
}
