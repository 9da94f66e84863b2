import Foundation
import ProcessSpawn

/// A stand-in for libnvidia-ml.so.1 with the real library's C ABI, compiled with the system C
/// compiler at test time: the daemon's dlopen binding is exercised on machines without a GPU.
/// Card 0 is a 24 GiB "RTX 4090" with 7 GiB used by three processes (pids 1001–1003, which do
/// not exist here, so they count as foreign): 5 GiB, 1 GiB + 256 MiB of graphics, and one whose
/// usage the driver does not report.
public enum FakeNVML {
    public static let totalBytes: UInt64 = 25_757_220_864
    public static let usedBytes: UInt64 = 7_516_192_768
    /// What the three processes hold together, as gpuctld adds it up.
    public static let processBytes: UInt64 = (5 << 30) + (1 << 30) + (256 << 20)

    /// Compiles the library into a new temporary directory and returns its path.
    public static func build() throws -> String {
        let directory = NSTemporaryDirectory() + "fake-nvml-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let sourcePath = "\(directory)/fake_nvml.c"
        let library = "\(directory)/libfake-nvml.so"
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        var compiler = ChildSpec("cc", ["-shared", "-fPIC", "-o", library, sourcePath])
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
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId, computeInstanceId; } nvmlProcessInfo_t;
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
/* Three compute processes: more than a first guess of 2 would hold, to exercise the retry. */
int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_t *infos) {
    unsigned int needed = 3;
    if (*count < needed) { *count = needed; return 7; }
    nvmlProcessInfo_t rows[3] = {
        {1001, 5368709120ULL, 0xFFFFFFFF, 0xFFFFFFFF},   /* 5 GiB */
        {1002, 1073741824ULL, 0xFFFFFFFF, 0xFFFFFFFF},   /* 1 GiB */
        {1003, 0xFFFFFFFFFFFFFFFFULL, 0, 0},             /* NVML_VALUE_NOT_AVAILABLE */
    };
    memcpy(infos, rows, sizeof rows);
    *count = needed;
    return 0;
}
int nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_t *infos) {
    if (*count < 1) { *count = 1; return 7; }
    nvmlProcessInfo_t row = {1002, 268435456ULL, 0, 0};  /* the same pid also draws: 256 MiB more */
    infos[0] = row;
    *count = 1;
    return 0;
}
"""#
}
