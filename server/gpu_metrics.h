// GPU metrics from NVML, the NVIDIA driver's management library, read at
// each scrape: memory used/total and utilisation per GPU the process can
// see (in a Kubernetes pod, the GPUs the device plugin gave it).
// ctrlfuse_gpu_memory_used_bytes, ctrlfuse_gpu_memory_total_bytes and
// ctrlfuse_gpu_utilization_ratio, labelled gpu (NVML index) and uuid.
//
// Compiled in every build and loaded at run time (dlopen of
// libnvidia-ml.so.1, which the driver installs and the NVIDIA container
// runtime mounts): no CUDA headers or libraries at build time, and a CPU
// host (no driver) simply has no GPU series. CTRLFUSE_NVML_LIBRARY names
// another library file (tests load a stand-in).
//
// Thread-safety: Collect may run on any thread (NVML is thread-safe).
// Ownership: the collector keeps the library loaded for its lifetime.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

namespace ctrlfuse::server {

class GpuCollector : public prometheus::Collectable {
 public:
  // Null, with `why` set, when NVML cannot be loaded or initialised.
  static std::shared_ptr<GpuCollector> Load(std::string* why);
  ~GpuCollector() override;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Api;
  explicit GpuCollector(std::unique_ptr<Api> api);
  std::unique_ptr<Api> api_;
};

}  // namespace ctrlfuse::server
