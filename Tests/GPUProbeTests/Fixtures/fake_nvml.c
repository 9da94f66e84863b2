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
