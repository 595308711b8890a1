// Model benchmark (not a test): one case per process so peak memory is the
// case's own. Prints one markdown table row:
//   | config | WxH | batch | forward s | encode s | decode s | images/s | peak RSS GiB |
// usage: model_bench CONFIG WIDTH HEIGHT BATCH [REPEATS] [THREADS]
// env: CTRLFUSE_BENCH_DEVICE (cpu, cuda), CTRLFUSE_BENCH_PRECISION (fp32,
// fp16, bf16, amp_fp16, amp_bf16), CTRLFUSE_BENCH_COMPARE, CTRLFUSE_BENCH_INPUTS
// (below), CTRLFUSE_BENCH_CHECKPOINT (weights to load, e.g. the server's
// bundled demo model; default seeded random), CTRLFUSE_BENCH_FLUSH_DENORMALS=0
// (subnormals are flushed by default, as the engine computes). On CUDA
// the last column is the peak device memory.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "model/checkpoint/checkpoint.h"
#include "model/checkpoint/torch_pickle.h"
#include "model/ctrlfuse_net.h"
#include "model/device.h"

namespace {
double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
using ctrlfuse::bench::Median;
}  // namespace

int main(int argc, char** argv) {
  using namespace ctrlfuse::model;
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s CONFIG WIDTH HEIGHT BATCH [REPEATS] [THREADS]\n", argv[0]);
    return 2;
  }
  ModelConfig config;
  if (!FindConfig(argv[1], &config)) return 2;
  const int64_t w = std::atoi(argv[2]), h = std::atoi(argv[3]), b = std::atoi(argv[4]);
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 3;
  ConfigureThreads(argc > 6 ? std::atoi(argv[6]) : 0);
  const char* dev = std::getenv("CTRLFUSE_BENCH_DEVICE");
  const char* prec = std::getenv("CTRLFUSE_BENCH_PRECISION");
  Placement place;
  if (auto err = ParsePlacement(dev ? dev : "cpu", prec ? prec : "fp32", &place); !err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 2;
  }
  torch::manual_seed(0);
  CtrlFuseNet net(config);
  if (const char* ckpt = std::getenv("CTRLFUSE_BENCH_CHECKPOINT")) LoadAnyCheckpoint(net, ckpt);
  net->eval();
  net->to(place.device, place.dtype);
  torch::InferenceMode guard;
  const char* flush = std::getenv("CTRLFUSE_BENCH_FLUSH_DENORMALS");
  FlushDenormalsGuard flush_denormals(!flush || std::string(flush) != "0");
  auto opts = torch::TensorOptions().device(place.device).dtype(place.dtype);
  auto vis = torch::rand({b, 1, h, w}, opts).expand({b, 3, h, w}).contiguous();
  auto ir = torch::rand({b, 1, h, w}, opts).expand({b, 3, h, w}).contiguous();
  auto mask = torch::zeros({b, 1, h, w}, opts);
  mask.slice(2, h / 4, h / 2).slice(3, w / 4, w / 2).fill_(1);
  // CTRLFUSE_BENCH_INPUTS=FILE (bench/scene_tensors.py): the first BATCH
  // pairs of real scenes instead of noise and a box.
  if (const char* inputs = std::getenv("CTRLFUSE_BENCH_INPUTS")) {
    auto file = ckpt::ReadTorchFile(inputs);
    auto take = [&](const char* key) { return file->Get(key)->tensor.slice(0, 0, b).to(opts); };
    vis = take("vis").expand({b, 3, -1, -1}).contiguous();
    ir = take("ir").expand({b, 3, -1, -1}).contiguous();
    mask = take("mask");
    if (vis.size(0) != b || vis.size(2) != h || vis.size(3) != w) {
      std::fprintf(stderr, "CTRLFUSE_BENCH_INPUTS: need %lld pairs of %lldx%lld\n", (long long)b, (long long)w,
                   (long long)h);
      return 2;
    }
  }
  // Device work is asynchronous: wait for it before reading the clock.
  auto sync = [&] {
    if (place.device.is_cuda()) torch::cuda::synchronize();
  };
  auto amp = std::make_unique<AutocastGuard>(place);  // amp_fp16 / amp_bf16: autocast around every forward
  net->forward(vis, ir, mask);                        // warm-up (allocator, oneDNN/cuDNN primitives)
  sync();
  ResetPeakDeviceMemory(place);
  std::vector<double> fwd, enc, dec;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    auto e = net->Encode(vis, ir);
    sync();
    enc.push_back(Seconds(t0));
    auto t1 = std::chrono::steady_clock::now();
    net->Decode(e, mask);
    sync();
    dec.push_back(Seconds(t1));
    fwd.push_back(Seconds(t0));
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double peak_gib = place.device.is_cuda() ? PeakDeviceMemory(place) / 1073741824.0 : ru.ru_maxrss / 1048576.0;
  std::printf("| %s | %lldx%lld | %lld | %.3f | %.3f | %.3f | %.2f | %.2f |", argv[1], (long long)w, (long long)h,
              (long long)b, Median(fwd), Median(enc), Median(dec), b / Median(fwd), peak_gib);
  // CTRLFUSE_BENCH_COMPARE=1: two more columns, the precision and the fused image's max |diff|
  // against the same weights and inputs in fp32 on the same device (0 for
  // fp32 itself).
  if (const char* cmp = std::getenv("CTRLFUSE_BENCH_COMPARE"); cmp && std::string(cmp) == "1") {
    auto got = net->forward(vis, ir, mask).fused.to(torch::kFloat32);
    amp.reset();  // the reference runs without autocast
    torch::manual_seed(0);
    CtrlFuseNet ref(config);
    ref->eval();
    ref->to(place.device, torch::kFloat32);
    auto f32 = [](const torch::Tensor& t) { return t.to(torch::kFloat32); };
    auto want = ref->forward(f32(vis), f32(ir), f32(mask)).fused;
    std::printf(" %s | %.2e |", prec ? prec : "fp32", (got - want).abs().max().item<double>());
  }
  std::printf("\n");
  return 0;
}
