#include "model/device.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>

#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CTRLFUSE_X86_MXCSR 1
#endif

#include <ATen/autocast_mode.h>

#ifdef CTRLFUSE_WITH_CUDA
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
  } else if (precision == "amp_bf16" && p.device.is_cpu()) {
    // Opt-in: matrix products and convolutions in bfloat16 on CPUs that
    // have it in hardware (AVX512-BF16 or AMX); elsewhere oneDNN emulates
    // it, slower than fp32. Quality change: docs/performance.md.
    p.autocast_dtype = torch::kBFloat16;
  } else if (precision == "amp_fp16" || precision == "amp_bf16") {
    if (p.device.is_cpu()) return "precision " + precision + " needs a CUDA device (on CPU: amp_bf16)";
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
  if (p.autocast_dtype == torch::kFloat32) return;
  device_type_ = p.device.is_cuda() ? at::kCUDA : at::kCPU;
  active_ = true;
  was_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  was_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_dtype(device_type_, p.autocast_dtype);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // The outermost guard drops the cast weights autocast cached.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, was_enabled_);
  at::autocast::set_autocast_dtype(device_type_, was_dtype_);
}

void ConfigureThreads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

int IntraOpThreads() { return at::get_num_threads(); }

#ifdef CTRLFUSE_X86_MXCSR
namespace {
constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;

// MXCSR is per thread, so LibTorch's OpenMP pool threads need it set
// themselves. at::parallel_for cannot do it from here: its OpenMP loop is
// inline in the ATen headers and this file is not built with -fopenmp, so
// it would run on the calling thread alone. GOMP_parallel is what
// `#pragma omp parallel` compiles to (libgomp's ABI since GCC 4.9; Intel's
// OpenMP runtime exports it too); it is looked up in the OpenMP runtime
// the torch libraries already loaded, and runs `fn` once on each thread of
// the calling thread's team. Without it (no OpenMP runtime), nothing to set.
void SetOnEveryPoolThread() {
  using GompParallel = void (*)(void (*)(void*), void*, unsigned, unsigned);
  static const auto gomp_parallel = reinterpret_cast<GompParallel>(dlsym(RTLD_DEFAULT, "GOMP_parallel"));
  const int n = at::get_num_threads();
  if (!gomp_parallel || n <= 1 || at::in_parallel_region()) return;
  gomp_parallel([](void*) { _mm_setcsr(_mm_getcsr() | kFlushToZero | kDenormalsAreZero); }, nullptr, unsigned(n), 0);
}
}  // namespace
#endif

FlushDenormalsGuard::FlushDenormalsGuard(bool enabled) {
#ifdef CTRLFUSE_X86_MXCSR
  if (!enabled) return;
  active_ = true;
  saved_csr_ = _mm_getcsr();
  _mm_setcsr(saved_csr_ | kFlushToZero | kDenormalsAreZero);
  SetOnEveryPoolThread();
#else
  (void)enabled;
#endif
}

FlushDenormalsGuard::~FlushDenormalsGuard() {
#ifdef CTRLFUSE_X86_MXCSR
  if (active_) _mm_setcsr(saved_csr_);
#endif
}

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
