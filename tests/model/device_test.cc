// Device and precision selection; on a machine with CUDA, the network on
// the GPU (fp32, fp16, bf16) against the CPU result. Skipped without CUDA.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <limits>

#include "model/device.h"
#include "tests/model/test_util.h"

namespace ctrlfuse::model {
namespace {

TEST(DeviceTest, ParsesAndRefusesWithReasons) {
  Placement p;
  EXPECT_EQ(ParsePlacement("cpu", "fp32", &p), "");
  EXPECT_TRUE(p.device.is_cpu());
  EXPECT_EQ(p.dtype, torch::kFloat32);
  EXPECT_NE(ParsePlacement("cpu", "fp16", &p).find("needs a CUDA device"), std::string::npos);
  EXPECT_NE(ParsePlacement("tpu", "fp32", &p).find("unknown device 'tpu'"), std::string::npos);
  EXPECT_NE(ParsePlacement("cpu", "fp8", &p).find("unknown precision 'fp8'"), std::string::npos);
  EXPECT_NE(ParsePlacement("cpu", "amp_fp16", &p).find("needs a CUDA device (on CPU: amp_bf16)"), std::string::npos);
  EXPECT_NE(ParsePlacement("cpu", "bf16", &p).find("needs a CUDA device"), std::string::npos);
  EXPECT_EQ(ParsePlacement("cpu", "amp_bf16", &p), "");  // the CPU's opt-in
  EXPECT_EQ(p.autocast_dtype, torch::kBFloat16);
  EXPECT_EQ(p.dtype, torch::kFloat32);
  if (!CudaAvailable()) {
    EXPECT_NE(ParsePlacement("cuda", "fp32", &p).find("no CUDA device"), std::string::npos);
  }
}

// Minor page faults taken by `cycles` rounds of allocating, writing and
// freeing a block of `mib(round)` MiB.
template <typename Size>
long FaultsOfLargeBlocks(int cycles, Size mib) {
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  for (int i = 0; i < cycles; ++i) torch::empty({int64_t(mib(i)) << 18}).fill_(1.0f);
  getrusage(RUSAGE_SELF, &after);
  return after.ru_minflt - before.ru_minflt;
}

// Counts, not times. The model's executables run on tcmalloc, which keeps a
// freed block for reuse: once warm, blocks of the forward's sizes come back
// without the kernel faulting their pages in again (glibc's malloc would
// map each afresh: 16384 faults per 64 MiB), and reuse does not grow the
// process (glibc with mmap off, tried first, grew by a block per cycle).
TEST(DeviceTest, TheHostAllocatorReusesLargeBlocksWithoutFaultsOrGrowth) {
#ifndef CTRLFUSE_TCMALLOC
  GTEST_SKIP() << "built with CTRLFUSE_TCMALLOC=OFF (the sanitizer builds)";
#endif
  ASSERT_TRUE(HostMallocIsTcmalloc());
  auto varied = [](int i) { return 40 + (i * 37) % 90; };  // 40..129 MiB
  FaultsOfLargeBlocks(3, varied);                          // warm: the largest block once
  FaultsOfLargeBlocks(1, [](int) { return 129; });
  rusage start{};
  getrusage(RUSAGE_SELF, &start);
  EXPECT_LT(FaultsOfLargeBlocks(10, [](int) { return 64; }), 1000);
  EXPECT_LT(FaultsOfLargeBlocks(20, varied), 2000);
  rusage end{};
  getrusage(RUSAGE_SELF, &end);
  EXPECT_LT(end.ru_maxrss - start.ru_maxrss, 64 << 10) << "KiB of growth";  // ru_maxrss is in KiB
}

TEST(DeviceTest, CpuPlacementCopiesAndConverts) {
  Placement p;
  ASSERT_EQ(ParsePlacement("cpu", "fp32", &p), "");
  auto host = torch::arange(12, torch::kInt32).view({3, 4});
  auto out = ToPlacement(host, p);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(out, host.to(torch::kFloat32)));
}

#ifdef CTRLFUSE_EXPECT_CUDA_CODE
// The regular build compiles the CUDA paths (a LibTorch with CUDA): this
// fails if a build silently dropped them.
TEST(DeviceTest, TheCudaCodePathsAreCompiled) { EXPECT_TRUE(CudaCodeCompiled()); }
#endif

TEST(DeviceTest, PinnedUploadToCudaEqualsThePlainCopy) {
  if (!CudaAvailable()) GTEST_SKIP() << "no CUDA device";
  for (const char* precision : {"fp32", "fp16", "bf16"}) {
    Placement p;
    ASSERT_EQ(ParsePlacement("cuda", precision, &p), "");
    auto host = torch::rand({2, 3, 33, 47});
    ResetPeakDeviceMemory(p);
    auto pinned = ToPlacement(host, p);
    EXPECT_TRUE(pinned.is_cuda());
    EXPECT_TRUE(torch::equal(pinned.cpu(), host.to(p.dtype))) << precision;
    EXPECT_GE(PeakDeviceMemory(p), int64_t(host.numel()) * pinned.element_size()) << precision;
  }
}

// amp_bf16 on the CPU (opt-in): the products in bfloat16 inside the guard
// only, and the network's outputs within bfloat16's rounding of fp32
// (8 mantissa bits; the measured quality change on the demo scenes is in
// docs/performance.md).
TEST(DeviceTest, CpuAutocastRunsInBfloat16OnlyInsideTheGuard) {
  Placement p;
  ASSERT_EQ(ParsePlacement("cpu", "amp_bf16", &p), "");
  auto a = torch::rand({64, 64}), b = torch::rand({64, 64});
  {
    AutocastGuard amp(p);
    EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kBFloat16);
    EXPECT_EQ(torch::relu(a).scalar_type(), torch::kFloat32);  // pointwise work stays fp32
  }
  EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kFloat32);
  auto net = testing::MakeTiny();
  auto [vis, ir] = testing::SyntheticPair(1, 64, 96);
  auto mask = testing::BoxMask(1, 64, 96, 10, 40, 10, 60);
  torch::InferenceMode guard;
  auto fp32 = net->forward(vis, ir, mask);
  AutocastGuard amp(p);
  auto bf16 = net->forward(vis, ir, mask);
  const double diff = (bf16.fused.to(torch::kFloat32) - fp32.fused).abs().max().item<double>();
  EXPECT_LT(diff, 5e-2);
  EXPECT_GT(diff, 0.0);  // it did run in bfloat16
}

TEST(DeviceTest, AutocastRunsInHalfPrecisionOnlyInsideTheGuard) {
  if (!CudaAvailable()) GTEST_SKIP() << "no CUDA device";
  Placement p;
  ASSERT_EQ(ParsePlacement("cuda", "amp_bf16", &p), "");
  EXPECT_EQ(p.dtype, torch::kFloat32);
  auto a = torch::rand({64, 64}, torch::kCUDA), b = torch::rand({64, 64}, torch::kCUDA);
  {
    AutocastGuard amp(p);
    EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kFloat32);
  // The network under autocast stays close to fp32 on the CPU.
  auto net = testing::MakeTiny();
  auto [vis, ir] = testing::SyntheticPair(1, 64, 96);
  auto mask = testing::BoxMask(1, 64, 96, 10, 40, 10, 60);
  torch::InferenceMode guard;
  auto cpu = net->forward(vis, ir, mask);
  auto gpu_net = testing::MakeTiny();
  gpu_net->to(p.device);
  AutocastGuard amp(p);
  auto out = gpu_net->forward(vis.to(p.device), ir.to(p.device), mask.to(p.device));
  EXPECT_LT((out.i_ref.to(torch::kCPU, torch::kFloat32) - cpu.i_ref).abs().max().item<double>(), 5e-2);
}

TEST(DeviceTest, CudaMatchesCpuInEveryPrecision) {
  if (!CudaAvailable()) GTEST_SKIP() << "no CUDA device";
  auto net = testing::MakeTiny();
  auto [vis, ir] = testing::SyntheticPair(2, 64, 96);
  auto mask = testing::BoxMask(2, 64, 96, 10, 40, 10, 60);
  torch::InferenceMode guard;
  auto cpu = net->forward(vis, ir, mask);
  for (const char* precision : {"fp32", "fp16", "bf16"}) {
    Placement p;
    ASSERT_EQ(ParsePlacement("cuda", precision, &p), "");
    auto gpu_net = testing::MakeTiny();
    gpu_net->to(p.device, p.dtype);
    auto out = gpu_net->forward(vis.to(p.device, p.dtype), ir.to(p.device, p.dtype), mask.to(p.device, p.dtype));
    const double tol = std::string(precision) == "fp32" ? 1e-3 : 5e-2;
    auto diff = [](const torch::Tensor& a, const torch::Tensor& b) {
      return (a.to(torch::kCPU, torch::kFloat32) - b).abs().max().item<double>();
    };
    // Thresholded masks can flip where a logit is ~0, so compare what is
    // continuous: the reference image and the logits (relative to their range).
    EXPECT_LT(diff(out.i_ref, cpu.i_ref), tol) << precision;
    const double range = cpu.logit_mask_vis.abs().max().item<double>() + 1;
    EXPECT_LT(diff(out.logit_mask_vis, cpu.logit_mask_vis) / range, tol) << precision;
    // When no mask pixel flipped, the fused images agree too (a flip moves
    // the decoder's whole 11x11 receptive field around it).
    if (torch::equal(out.pred_mask.to(torch::kCPU), cpu.pred_mask)) {
      EXPECT_LT(diff(out.fused, cpu.fused), tol) << precision;
    }
  }
}

// A subnormal result (1e-30 * 1e-10 = 1e-40 < FLT_MIN) is zero inside the
// guard, on the calling thread and on every intra-op pool thread (a tensor
// large enough that LibTorch splits the multiply over the pool), and an
// input already subnormal is read as zero; after the guard the calling
// thread computes subnormals again.
TEST(DeviceTest, FlushDenormalsGuardZeroesSubnormalsOnEveryIntraOpThread) {
  ConfigureThreads(2);
  const auto x = torch::full({1 << 20}, 1e-30f);
  auto subnormals = [](const torch::Tensor& t) {
    return ((t != 0) & (t.abs() < std::numeric_limits<float>::min())).sum().item<int64_t>();
  };
  ASSERT_EQ(subnormals(x * 1e-10f), 1 << 20);  // without the guard: all subnormal
  const auto stored = torch::full({1 << 20}, 1e-40f);
  ASSERT_EQ(subnormals(stored), 1 << 20);
  {
    FlushDenormalsGuard flush;
    EXPECT_EQ(subnormals(x * 1e-10f), 0);
    EXPECT_EQ((x * 1e-10f).count_nonzero().item<int64_t>(), 0);
    EXPECT_EQ((stored * 1e30f).count_nonzero().item<int64_t>(), 0);  // DAZ: a subnormal input reads as 0
  }
  volatile float tiny = 1e-30f, scale = 1e-10f;
  EXPECT_GT(tiny * scale, 0.0f);  // the calling thread's mode is restored
  FlushDenormalsGuard off(/*enabled=*/false);
  volatile float again = tiny * scale;
  EXPECT_GT(again, 0.0f);
  ConfigureThreads(0);
}

}  // namespace
}  // namespace ctrlfuse::model
