// Device, precision and thread settings, chosen at run time. CUDA-specific
// calls sit behind CTRLFUSE_WITH_CUDA, which every regular build defines
// (LibTorch 2.x from the CUDA torch wheel); a LibTorch without CUDA builds
// with CTRLFUSE_CUDA=OFF.
#pragma once

#include <torch/torch.h>

#include <string>

namespace ctrlfuse::model {

struct Placement {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  // NHWC activations: faster convolutions on CUDA (tensor cores) with half
  // precision; on this CPU's oneDNN build the default layout measured faster.
  bool channels_last = false;
  // Mixed precision ("amp_fp16" / "amp_bf16" on CUDA, "amp_bf16" on CPU,
  // opt-in): the weights stay fp32 and LibTorch's autocast runs the matrix
  // products and convolutions in this dtype, the rest in fp32. kFloat32
  // means no autocast.
  torch::ScalarType autocast_dtype = torch::kFloat32;
};

// device: "cpu", "cuda", "cuda:N"; precision: "fp32", "fp16", "bf16" (the
// whole network cast), "amp_fp16", "amp_bf16" (autocast).
// Returns an error message, empty on success. On CPU only fp32 and
// amp_bf16 (opt-in: fast only with AVX512-BF16/AMX; its quality change is
// measured in docs/performance.md); the whole-network casts and fp16 need
// CUDA.
std::string ParsePlacement(const std::string& device, const std::string& precision, Placement* out);

bool CudaAvailable();

// Turns autocast on for `p`'s device on this thread for the guard's life
// (autocast state is thread-local), and restores the previous state after;
// does nothing when `p` asks for no autocast. Use on the thread that runs
// the forward; not copyable.
class AutocastGuard {
 public:
  explicit AutocastGuard(const Placement& p);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kFloat32;
};

// Denormal (subnormal) floats flushed to zero, as TensorFlow's CPU runtime
// computes (ONNX Runtime has it as a session option): a trained
// checkpoint's near-zero weights and the activations they make fall below
// FLT_MIN (1.2e-38), and each x86 operation on such a value takes a
// microcode assist; the bundled demo model's engine measured 1.3x slower
// for it, its encode 1.5x (docs/performance.md, "Serving"). Results
// change only where a value lies below FLT_MIN, by less than FLT_MIN.
// For the guard's life the calling thread flushes (FTZ and DAZ, x86 MXCSR;
// restored after), and LibTorch's intra-op pool threads are set once per
// guard and stay set (they run LibTorch work only). A no-op off x86 and
// when `enabled` is false. Construct on the thread that runs the forward;
// not copyable.
class FlushDenormalsGuard {
 public:
  explicit FlushDenormalsGuard(bool enabled = true);
  ~FlushDenormalsGuard();
  FlushDenormalsGuard(const FlushDenormalsGuard&) = delete;
  FlushDenormalsGuard& operator=(const FlushDenormalsGuard&) = delete;

 private:
  bool active_ = false;
  unsigned saved_csr_ = 0;
};

// Intra-op threads for LibTorch. 0 = one per available core. The wheel's
// LibTorch runs its convolutions and its MKL matrix products on this one
// OpenMP pool; one thread per core with OMP_WAIT_POLICY=PASSIVE (set by
// scripts/env.sh) measured best (docs/benchmarks.md, "Thread settings").
void ConfigureThreads(int threads);
int IntraOpThreads();

// Whether this process's malloc is tcmalloc (linked into the server, the
// trainer and the benchmarks; CMake option CTRLFUSE_TCMALLOC). The forward
// allocates and frees many 10-800 MB tensors: glibc's malloc returns each
// to the kernel, which faults it in and zeroes it page by page on the next
// forward (7 M faults for vit_b at 640x480, a third of its time), while
// tcmalloc keeps freed spans for reuse (docs/performance.md).
bool HostMallocIsTcmalloc();

// A host tensor moved to `p`'s device and dtype. On CUDA it goes through
// page-locked (pinned) memory from LibTorch's caching host allocator, so
// the upload is an asynchronous DMA on the current stream (the allocator
// keeps the staging buffer alive until the copy is done); elsewhere a plain
// copy. Thread-safe.
torch::Tensor ToPlacement(const torch::Tensor& host, const Placement& p);

// Whether this build compiled the CUDA code paths (CTRLFUSE_WITH_CUDA).
bool CudaCodeCompiled();

// Peak accelerator memory since the last reset, in bytes (0 on CPU).
int64_t PeakDeviceMemory(const Placement& p);
void ResetPeakDeviceMemory(const Placement& p);

}  // namespace ctrlfuse::model
