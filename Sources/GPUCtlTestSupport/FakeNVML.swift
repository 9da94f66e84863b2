import Foundation
import ProcessSpawn

/// A stand-in for libnvidia-ml.so.1 with the real library's C ABI, compiled with the system C
/// compiler at test time: the daemon's dlopen binding is exercised on machines without a GPU.
/// Card 0 is a 24 GiB "RTX 4090" with 7 GiB used by three processes (`pids`, which no process
/// can have, so they count as foreign): 5 GiB, 1 GiB + 256 MiB of graphics, and one whose usage
/// the driver does not report.
public enum FakeNVML {
    public static let totalBytes: UInt64 = 25_757_220_864
    public static let usedBytes: UInt64 = 7_516_192_768
    /// The three processes' pids: above Linux's PID_MAX_LIMIT (2^22), so /proc never names them
    /// after some process of this machine (pids wrap at 32768 here and a test run spawns many).
    public static let pids: [Int32] = [4_201_001, 4_201_002, 4_201_003]
    /// The twenty processes of `manyProcesses`.
    public static let manyPIDs: [Int32] = Array(4_202_001...4_202_020)
    /// What the three processes hold together, as gpuctld adds it up.
    public static let processBytes: UInt64 = (5 << 30) + (1 << 30) + (256 << 20)

    /// Which entry points the fake library exports and what it reports.
    public enum Variant: Sendable {
        /// `_v2`, `_v3` and the unversioned process calls, three compute processes.
        case standard
        /// No `_v2` process calls: only the unversioned (16-byte rows) and `_v3` ones.
        case withoutV2
        /// Twenty compute processes (`manyPIDs`, 100 MiB each) instead of three.
        case manyProcesses
    }

    /// What the twenty processes of `manyProcesses` hold, graphics included.
    public static let manyProcessBytes: UInt64 = 20 * (100 << 20) + (256 << 20)

    /// Compiles the library into a new temporary directory and returns its path.
    public static func build(_ variant: Variant = .standard) throws -> String {
        let directory = NSTemporaryDirectory() + "fake-nvml-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let sourcePath = "\(directory)/fake_nvml.c"
        let library = "\(directory)/libfake-nvml.so"
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        let defines: [String] = switch variant {
        case .standard: []
        case .withoutV2: ["-DNO_V2"]
        case .manyProcesses: ["-DMANY"]
        }
        var compiler = ChildSpec("cc", defines + ["-shared", "-fPIC", "-o", library, sourcePath])
        compiler.group = .lifeline
        let result = try Child.runBlocking(compiler, within: .seconds(120))
        guard result.status == ExitStatus(code: 0) else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "cc could not build the fake NVML: \(result.errorText)"])
        }
        return library
    }

    static let source = #"""
/* A stand-in for libnvidia-ml.so.1 with the C ABI of the real one, for testing gpuctld's
   dlopen binding on machines without an NVIDIA driver. Values are fixed and recognisable. */
#include <string.h>

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef void *nvmlDevice_t;

static int devices[2];

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int code) { return code == 7 ? "Insufficient Size" : "Unknown Error"; }
int nvmlDeviceGetCount_v2(unsigned int *count) { *count = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (index > 1) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *device = &devices[index];
    return 0;
}
int nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    strncpy(name, device == &devices[0] ? "NVIDIA GeForce RTX 4090" : "NVIDIA RTX A4000", length);
    return 0;
}
int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    memory->total = 25757220864ULL;      /* 24564 MiB */
    memory->used = 7516192768ULL;        /* 7168 MiB */
    memory->free = memory->total - memory->used;
    return 0;
}
typedef struct { unsigned int pid; unsigned long long used; } row_t;

#ifdef MANY
static row_t compute[20];
static unsigned int computeCount(void) {
    for (unsigned int i = 0; i < 20; i++) { compute[i].pid = 4202001 + i; compute[i].used = 104857600ULL; }
    return 20;
}
#else
/* Three compute processes: more than a first guess of 2 would hold, to exercise the retry. */
static row_t compute[3] = {
    {4201001, 5368709120ULL},             /* 5 GiB */
    {4201002, 1073741824ULL},             /* 1 GiB */
    {4201003, 0xFFFFFFFFFFFFFFFFULL},     /* NVML_VALUE_NOT_AVAILABLE */
};
static unsigned int computeCount(void) { return 3; }
#endif
static row_t graphics[1] = {{4201002, 268435456ULL}};  /* the same pid also draws: 256 MiB more */

/* Rows of `stride` bytes: pid at 0, usedGpuMemory at 8; from 16 on, instance ids (and in the
   32-byte rows that drivers 535.43-535.86 write through _v3, usedGpuCcProtectedMemory at 24). */
static int fill(const row_t *rows, unsigned int n, unsigned int *count, void *infos, unsigned int stride) {
    if (*count < n) { *count = n; return 7; }
    for (unsigned int i = 0; i < n; i++) {
        char *row = (char *)infos + (unsigned long)i * stride;
        memset(row, 0, stride);
        memcpy(row, &rows[i].pid, 4);
        memcpy(row + 8, &rows[i].used, 8);
        if (stride >= 24) memset(row + 16, 0xFF, 8);
        if (stride >= 32) { unsigned long long cc = 4096; memcpy(row + 24, &cc, 8); }
    }
    *count = n;
    return 0;
}

int nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int *c, void *i) { return fill(compute, computeCount(), c, i, 16); }
int nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t d, unsigned int *c, void *i) { return fill(graphics, 1, c, i, 16); }
#ifndef NO_V2
int nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *c, void *i) { return fill(compute, computeCount(), c, i, 24); }
int nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t d, unsigned int *c, void *i) { return fill(graphics, 1, c, i, 24); }
#endif
int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *c, void *i) { return fill(compute, computeCount(), c, i, 32); }
int nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *c, void *i) { return fill(graphics, 1, c, i, 32); }
"""#
}
