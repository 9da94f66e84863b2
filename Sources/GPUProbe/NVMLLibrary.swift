#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// NVIDIA's management library, loaded with dlopen at run time: the build needs no NVIDIA
/// package, and a machine without the driver simply has no NVML (not an error).
///
/// NVML is thread-safe; one instance is initialised once and shared.
public final class NVMLLibrary: @unchecked Sendable {
    private typealias InitFn = @convention(c) () -> CInt
    private typealias CountFn = @convention(c) (UnsafeMutablePointer<CUnsignedInt>) -> CInt
    private typealias HandleFn = @convention(c) (CUnsignedInt, UnsafeMutablePointer<OpaquePointer?>) -> CInt
    private typealias NameFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>, CUnsignedInt) -> CInt
    private typealias MemoryFn = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer) -> CInt
    private typealias ProcessesFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CUnsignedInt>,
                                                    UnsafeMutableRawPointer?) -> CInt
    private typealias ErrorStringFn = @convention(c) (CInt) -> UnsafePointer<CChar>?

    /// nvmlMemory_t: three unsigned long longs, in the order total, free, used.
    static let memoryLayout = (size: 24, total: 0, free: 8, used: 16)

    /// The row of a process list, by entry point: `_v2` rows (nvmlProcessInfo_v2_t) are an
    /// unsigned pid at 0, an unsigned long long usedGpuMemory at 8 and two unsigned instance
    /// ids, 24 bytes; the unversioned (v1) rows stop after usedGpuMemory, 16 bytes. The `_v3`
    /// entry points are never called: drivers 535.43–535.86 write 32-byte rows through them
    /// (and later ones other layouts), which a 24-byte stride misreads and overflows. Read by
    /// offset, so no Swift struct layout is assumed.
    struct ProcessLayout: Equatable {
        var size: Int
        var pid = 0
        var used = 8
        static let v2 = ProcessLayout(size: 24)
        static let v1 = ProcessLayout(size: 16)
    }

    struct NVMLProcessInfo {
        var pid: CUnsignedInt
        var usedGpuMemory: UInt64
    }

    private static let success: CInt = 0
    private static let insufficientSize: CInt = 7
    /// NVML_VALUE_NOT_AVAILABLE: the driver does not know (containers, some MIG setups).
    private static let valueNotAvailable = UInt64.max

    private let handle: UnsafeMutableRawPointer
    private let shutdown: InitFn
    private let deviceCount: CountFn
    private let deviceHandle: HandleFn
    private let deviceName: NameFn
    private let memoryInfo: MemoryFn
    private let computeProcesses: (ProcessesFn, ProcessLayout)?
    private let graphicsProcesses: (ProcessesFn, ProcessLayout)?
    private let errorString: ErrorStringFn?

    /// The default soname the driver installs.
    public static let defaultPath = "libnvidia-ml.so.1"

    /// Opens and initialises NVML. Throws with the reason when the library is absent, lacks
    /// a symbol, or `nvmlInit` fails (no driver loaded, no permission on /dev/nvidia*).
    public init(path: String = NVMLLibrary.defaultPath) throws(GPUProbeError) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw GPUProbeError("NVML is not available (\(reason))")
        }
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        guard let initialise = symbol("nvmlInit_v2", as: InitFn.self),
              let shutdown = symbol("nvmlShutdown", as: InitFn.self),
              let count = symbol("nvmlDeviceGetCount_v2", as: CountFn.self),
              let deviceHandle = symbol("nvmlDeviceGetHandleByIndex_v2", as: HandleFn.self),
              let name = symbol("nvmlDeviceGetName", as: NameFn.self),
              let memory = symbol("nvmlDeviceGetMemoryInfo", as: MemoryFn.self) else {
            dlclose(handle)
            throw GPUProbeError("NVML at \(path) lacks the functions gpuctld needs (driver too old?)")
        }
        self.handle = handle
        self.shutdown = shutdown
        self.deviceCount = count
        self.deviceHandle = deviceHandle
        self.deviceName = name
        self.memoryInfo = memory
        func processCall(_ base: String) -> (ProcessesFn, ProcessLayout)? {
            if let v2 = symbol(base + "_v2", as: ProcessesFn.self) { return (v2, .v2) }
            return symbol(base, as: ProcessesFn.self).map { ($0, .v1) }
        }
        self.computeProcesses = processCall("nvmlDeviceGetComputeRunningProcesses")
        self.graphicsProcesses = processCall("nvmlDeviceGetGraphicsRunningProcesses")
        self.errorString = symbol("nvmlErrorString", as: ErrorStringFn.self)
        let status = initialise()
        guard status == Self.success else {
            let message = Self.describe(status, errorString)
            dlclose(handle)
            throw GPUProbeError("NVML could not initialise (\(message)); is the NVIDIA driver loaded and /dev/nvidia* readable?")
        }
    }

    deinit {
        _ = shutdown()
        dlclose(handle)
    }

    /// The number of cards NVML sees.
    public func count() throws(GPUProbeError) -> Int {
        var count: CUnsignedInt = 0
        try check(deviceCount(&count), "nvmlDeviceGetCount")
        return Int(count)
    }

    /// Reads card `index`: name, memory, and the processes that hold memory on it.
    public func sample(index: Int) throws(GPUProbeError) -> GPUSample {
        var device: OpaquePointer?
        try check(deviceHandle(CUnsignedInt(index), &device), "nvmlDeviceGetHandleByIndex(\(index))")
        var nameBuffer = [CChar](repeating: 0, count: 96)
        try check(deviceName(device, &nameBuffer, CUnsignedInt(nameBuffer.count)), "nvmlDeviceGetName")
        let name = nameBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let memoryBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.memoryLayout.size, alignment: 8)
        defer { memoryBuffer.deallocate() }
        memoryBuffer.initializeMemory(as: UInt8.self, repeating: 0, count: Self.memoryLayout.size)
        try check(memoryInfo(device, memoryBuffer), "nvmlDeviceGetMemoryInfo")
        let total = memoryBuffer.load(fromByteOffset: Self.memoryLayout.total, as: UInt64.self)
        let free = memoryBuffer.load(fromByteOffset: Self.memoryLayout.free, as: UInt64.self)
        let used = memoryBuffer.load(fromByteOffset: Self.memoryLayout.used, as: UInt64.self)
        var byPID: [Int32: UInt64] = [:]
        for (function, layout) in [computeProcesses, graphicsProcesses].compactMap({ $0 }) {
            for info in try processes(device, function, layout) {
                let used = info.usedGpuMemory == Self.valueNotAvailable ? 0 : info.usedGpuMemory
                byPID[Int32(bitPattern: info.pid), default: 0] += used
            }
        }
        let processes = byPID.keys.sorted().map {
            GPUProcessSample(pid: $0, name: ProcessNames.commandLine(of: $0), usedBytes: byPID[$0]!)
        }
        return GPUSample(index: index, name: name, totalBytes: total, usedBytes: used,
                         freeBytes: free, source: .nvml, processes: processes)
    }

    private func processes(_ device: OpaquePointer?, _ function: ProcessesFn,
                           _ layout: ProcessLayout) throws(GPUProbeError) -> [NVMLProcessInfo] {
        var capacity: CUnsignedInt = 16
        // The list can grow between the two calls; try a few times with the size NVML reports.
        for _ in 0..<4 {
            var count = capacity
            let stride = layout.size
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(capacity) * stride, alignment: 8)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: Int(capacity) * stride)
            let status = function(device, &count, buffer)
            if status == Self.success {
                return (0..<Int(min(count, capacity))).map { row in
                    NVMLProcessInfo(
                        pid: buffer.load(fromByteOffset: row * stride + layout.pid, as: CUnsignedInt.self),
                        usedGpuMemory: buffer.load(fromByteOffset: row * stride + layout.used, as: UInt64.self))
                }
            }
            guard status == Self.insufficientSize else {
                try check(status, "nvmlDeviceGetRunningProcesses")
                return []
            }
            capacity = max(count, capacity * 2)
        }
        throw GPUProbeError("NVML kept reporting more GPU processes than it returned")
    }

    private func check(_ status: CInt, _ call: String) throws(GPUProbeError) {
        guard status != Self.success else { return }
        throw GPUProbeError("NVML \(call) failed: \(Self.describe(status, errorString))")
    }

    private static func describe(_ status: CInt, _ errorString: ErrorStringFn?) -> String {
        if let text = errorString?(status) { return "\(String(cString: text)) (code \(status))" }
        return "code \(status)"
    }
}

/// Reads a process's command line from /proc, for naming GPU processes and telling whose they are.
enum ProcessNames {
    static func commandLine(of pid: Int32) -> String {
        guard let file = fopen("/proc/\(pid)/cmdline", "r") else { return "pid \(pid)" }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = fread(&bytes, 1, bytes.count, file)
        guard count > 0 else { return "pid \(pid)" }
        // Arguments are NUL-separated.
        let text = bytes[0..<count].map { $0 == 0 ? UInt8(ascii: " ") : $0 }
        return String(decoding: text, as: UTF8.self).trimmingTrailingSpaces()
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var view = Substring(self)
        while view.last == " " { view = view.dropLast() }
        return String(view)
    }
}
