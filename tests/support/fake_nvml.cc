// Test double for NVML (libnvidia-ml.so.1), which needs an NVIDIA driver
// that the test machines lack: two GPUs with fixed, known readings, so the
// server's GPU collector (server/gpu_metrics.cc) is tested on its real
// dlopen/dlsym path. Loaded through CTRLFUSE_NVML_LIBRARY.
#include <cstdio>

extern "C" {

typedef struct {
  unsigned long long total, free, used;
} fake_memory;
typedef struct {
  unsigned int gpu, memory;
} fake_utilization;

int initialised = 0;

int nvmlInit_v2(void) {
  initialised = 1;
  return 0;
}
int nvmlShutdown(void) {
  initialised = 0;
  return 0;
}
int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = 2;
  return initialised ? 0 : 1;
}
// A device handle is its index + 1 (never null).
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void** device) {
  *device = reinterpret_cast<void*>(static_cast<unsigned long>(i + 1));
  return i < 2 ? 0 : 2;
}
int nvmlDeviceGetMemoryInfo(void* device, fake_memory* m) {
  unsigned long i = reinterpret_cast<unsigned long>(device) - 1;
  m->total = 80ull << 30;
  m->used = (i + 1) * 1500000000ull;
  m->free = m->total - m->used;
  return 0;
}
int nvmlDeviceGetUtilizationRates(void* device, fake_utilization* u) {
  u->gpu = reinterpret_cast<unsigned long>(device) == 1 ? 37 : 0;
  u->memory = 5;
  return 0;
}
int nvmlDeviceGetUUID(void* device, char* uuid, unsigned int length) {
  snprintf(uuid, length, "GPU-fake-%lu", reinterpret_cast<unsigned long>(device) - 1);
  return 0;
}

}  // extern "C"
