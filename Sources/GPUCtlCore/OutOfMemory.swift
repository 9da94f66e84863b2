import GPUCtlModels

/// Reading an out-of-memory failure of a ComfyUI job, and what its one retry is charged.
/// PyTorch says `torch.OutOfMemoryError` (`exception_type` of ComfyUI's execution_error) with
/// a message like "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity
/// of 11.72 GiB of which 1.05 GiB is free. …".
public enum OutOfMemory {
    /// Whether an execution error is the card running out of memory.
    public static func matches(exceptionType: String?, message: String) -> Bool {
        if let exceptionType, exceptionType.contains("OutOfMemoryError") { return true }
        let lowered = message.lowercased()
        return lowered.contains("out of memory") || lowered.contains("outofmemoryerror")
    }

    /// The allocation that failed ("Tried to allocate 2.00 GiB"), when the message says.
    public static func requestedBytes(in message: String) -> UInt64? {
        guard let range = message.range(of: "Tried to allocate ") else { return nil }
        // "2.00 GiB. GPU 0 …": the number, then the unit without its full stop.
        let words = message[range.upperBound...].split(separator: " ", maxSplits: 2)
        guard words.count >= 2 else { return nil }
        let unit = words[1].trimmingCharacters(in: .punctuationCharacters)
        return ByteSize(parsing: "\(words[0])\(unit)")?.bytes
    }

    /// The smallest retry worth making: 1 GiB more.
    public static let smallestStep: UInt64 = 1 << 30

    /// What the retry of a job charged `charged` is charged: that plus the allocation that
    /// failed, or a quarter more (at least `smallestStep`) when the message does not say.
    public static func retryCharge(charged: UInt64, message: String) -> UInt64 {
        let step = requestedBytes(in: message) ?? max(smallestStep, charged / 4)
        return charged.addingSaturating(max(step, 1))
    }
}
