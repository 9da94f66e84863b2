/// Where a sample came from.
public enum GPUSampleSource: String, Sendable, Equatable {
    case nvml
    case nvidiaSMI = "nvidia-smi"
    case declared
}

/// One process holding memory on the card.
public struct GPUProcessSample: Sendable, Equatable {
    public var pid: Int32
    /// The process's command line (or name, when the command line cannot be read).
    public var name: String
    /// Bytes of device memory; 0 when the driver does not say.
    public var usedBytes: UInt64

    public init(pid: Int32, name: String, usedBytes: UInt64) {
        self.pid = pid
        self.name = name
        self.usedBytes = usedBytes
    }
}

/// One reading of one card.
public struct GPUSample: Sendable, Equatable {
    public var index: Int
    public var name: String
    public var totalBytes: UInt64
    public var usedBytes: UInt64
    public var freeBytes: UInt64
    public var source: GPUSampleSource
    public var processes: [GPUProcessSample]

    public init(index: Int, name: String, totalBytes: UInt64, usedBytes: UInt64, freeBytes: UInt64,
                source: GPUSampleSource, processes: [GPUProcessSample] = []) {
        self.index = index
        self.name = name
        self.totalBytes = totalBytes
        self.usedBytes = usedBytes
        self.freeBytes = freeBytes
        self.source = source
        self.processes = processes
    }
}

/// A probe that could not read the card. The message says what failed and why.
public struct GPUProbeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
