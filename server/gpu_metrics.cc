#include "server/gpu_metrics.h"

#include <dlfcn.h>

#include <cstdlib>

namespace ctrlfuse::server {
namespace {

// The few NVML declarations used, as the NVML API reference gives them
// (nvml.h is not on a build machine without the driver's headers).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlUtilization_t {
  unsigned int gpu, memory;  // percent over the driver's last sample period
};
constexpr nvmlReturn_t kNvmlSuccess = 0;

}  // namespace

struct GpuCollector::Api {
  void* library = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;
};

std::shared_ptr<GpuCollector> GpuCollector::Load(std::string* why) {
  const char* path = std::getenv("CTRLFUSE_NVML_LIBRARY");
  if (!path || !*path) path = "libnvidia-ml.so.1";
  auto api = std::make_unique<Api>();
  api->library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!api->library) {
    *why = std::string("cannot load NVML (") + path + "): " + dlerror();
    return nullptr;
  }
  auto bind = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(api->library, name));
    return fn != nullptr;
  };
  if (!bind(api->init, "nvmlInit_v2") || !bind(api->shutdown, "nvmlShutdown") ||
      !bind(api->count, "nvmlDeviceGetCount_v2") || !bind(api->handle, "nvmlDeviceGetHandleByIndex_v2") ||
      !bind(api->memory, "nvmlDeviceGetMemoryInfo") || !bind(api->utilization, "nvmlDeviceGetUtilizationRates") ||
      !bind(api->uuid, "nvmlDeviceGetUUID")) {
    *why = std::string(path) + " lacks an NVML function";
    dlclose(api->library);
    return nullptr;
  }
  if (nvmlReturn_t r = api->init(); r != kNvmlSuccess) {
    *why = "nvmlInit failed with code " + std::to_string(r);
    dlclose(api->library);
    return nullptr;
  }
  return std::shared_ptr<GpuCollector>(new GpuCollector(std::move(api)));
}

GpuCollector::GpuCollector(std::unique_ptr<Api> api) : api_(std::move(api)) {}

GpuCollector::~GpuCollector() {
  api_->shutdown();
  dlclose(api_->library);
}

std::vector<prometheus::MetricFamily> GpuCollector::Collect() const {
  using prometheus::MetricType;
  prometheus::MetricFamily used{
      "ctrlfuse_gpu_memory_used_bytes", "GPU memory in use (all processes), per GPU.", MetricType::Gauge, {}};
  prometheus::MetricFamily total{"ctrlfuse_gpu_memory_total_bytes", "GPU memory, per GPU.", MetricType::Gauge, {}};
  prometheus::MetricFamily busy{"ctrlfuse_gpu_utilization_ratio",
                                "Fraction of the driver's last sample period in which a kernel ran, per GPU.",
                                MetricType::Gauge,
                                {}};
  unsigned int n = 0;
  if (api_->count(&n) != kNvmlSuccess) n = 0;
  for (unsigned int i = 0; i < n; ++i) {
    nvmlDevice_t device = nullptr;
    if (api_->handle(i, &device) != kNvmlSuccess) continue;
    char uuid[96] = {0};
    if (api_->uuid(device, uuid, sizeof uuid - 1) != kNvmlSuccess) uuid[0] = 0;
    const std::vector<prometheus::ClientMetric::Label> labels = {{"gpu", std::to_string(i)}, {"uuid", uuid}};
    auto sample = [&](prometheus::MetricFamily& f, double v) {
      prometheus::ClientMetric m;
      m.label = labels;
      m.gauge.value = v;
      f.metric.push_back(m);
    };
    nvmlMemory_t mem{};
    if (api_->memory(device, &mem) == kNvmlSuccess) {
      sample(used, double(mem.used));
      sample(total, double(mem.total));
    }
    nvmlUtilization_t util{};
    if (api_->utilization(device, &util) == kNvmlSuccess) sample(busy, util.gpu / 100.0);
  }
  return {used, total, busy};
}

}  // namespace ctrlfuse::server
