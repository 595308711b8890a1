#include "model/device.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>

#include <thread>

#ifdef CTRLFUSE_WITH_CUDA
#include <ATen/autocast_mode.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace ctrlfuse::model {

bool CudaAvailable() { return torch::cuda::is_available(); }

std::string ParsePlacement(const std::string& device, const std::string& precision, Placement* out) {
  Placement p;
  if (device == "cpu") {
    p.device = torch::kCPU;
  } else if (device.rfind("cuda", 0) == 0) {
    if (!CudaAvailable()) return "device '" + device + "' requested but no CUDA device is available";
    try {
      p.device = torch::Device(device);
    } catch (const c10::Error&) {
      return "unparseable device '" + device + "'";
    }
  } else {
    return "unknown device '" + device + "' (expected cpu, cuda or cuda:N)";
  }
  if (precision == "fp32") {
    p.dtype = torch::kFloat32;
  } else if (precision == "fp16" || precision == "bf16") {
    if (p.device.is_cpu()) return "precision " + precision + " needs a CUDA device";
    p.dtype = precision == "fp16" ? torch::kFloat16 : torch::kBFloat16;
    p.channels_last = true;
  } else if (precision == "amp_fp16" || precision == "amp_bf16") {
    if (p.device.is_cpu()) return "precision " + precision + " needs a CUDA device";
    if (!CudaCodeCompiled()) return "precision " + precision + " needs a build with CUDA code paths";
    p.autocast_dtype = precision == "amp_fp16" ? torch::kFloat16 : torch::kBFloat16;
    p.channels_last = true;
  } else {
    return "unknown precision '" + precision + "' (expected fp32, fp16, bf16, amp_fp16 or amp_bf16)";
  }
  *out = p;
  return "";
}

AutocastGuard::AutocastGuard(const Placement& p) {
#ifdef CTRLFUSE_WITH_CUDA
  if (p.autocast_dtype == torch::kFloat32 || !p.device.is_cuda()) return;
  active_ = true;
  was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  was_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
  at::autocast::set_autocast_dtype(at::kCUDA, p.autocast_dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::increment_nesting();
#else
  (void)p;
#endif
}

AutocastGuard::~AutocastGuard() {
#ifdef CTRLFUSE_WITH_CUDA
  if (!active_) return;
  // The outermost guard drops the cast weights autocast cached.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
  at::autocast::set_autocast_dtype(at::kCUDA, was_dtype_);
#endif
}

void ConfigureThreads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

int IntraOpThreads() { return at::get_num_threads(); }

bool HostMallocIsTcmalloc() { return dlsym(RTLD_DEFAULT, "tc_malloc") != nullptr; }

torch::Tensor ToPlacement(const torch::Tensor& host, const Placement& p) {
#ifdef CTRLFUSE_WITH_CUDA
  if (p.device.is_cuda() && host.device().is_cpu()) {
    auto pinned = host.is_pinned() ? host : host.pin_memory();
    return pinned.to(p.device, p.dtype, /*non_blocking=*/true);
  }
#endif
  return host.to(p.device, p.dtype);
}

bool CudaCodeCompiled() {
#ifdef CTRLFUSE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int64_t PeakDeviceMemory(const Placement& p) {
#ifdef CTRLFUSE_WITH_CUDA
  if (p.device.is_cuda()) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(p.device.index() < 0 ? 0 : p.device.index());
    return stats.allocated_bytes[0].peak;  // aggregate pool
  }
#endif
  (void)p;
  return 0;
}

void ResetPeakDeviceMemory(const Placement& p) {
#ifdef CTRLFUSE_WITH_CUDA
  if (p.device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(p.device.index() < 0 ? 0 : p.device.index());
#endif
  (void)p;
}

}  // namespace ctrlfuse::model
