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
};

// device: "cpu", "cuda", "cuda:N"; precision: "fp32", "fp16", "bf16".
// Returns an error message, empty on success. Half precisions are refused
// on CPU (LibTorch 1.13's CPU kernels lack many fp16 ops).
std::string ParsePlacement(const std::string& device, const std::string& precision, Placement* out);

bool CudaAvailable();

// Intra-op threads for LibTorch. 0 = one per available core. OpenBLAS runs
// its own pool (OPENBLAS_NUM_THREADS) under LibTorch's matmuls; with
// OMP_WAIT_POLICY=PASSIVE both at full width measured best (the pools take
// turns rather than oversubscribing; docs/benchmarks.md).
void ConfigureThreads(int threads);
int IntraOpThreads();

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
