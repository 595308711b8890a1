// The fusion engine alone (model/api, as the server calls it) on real
// image files: PNG decode, Encode, Decode and PNG encode of the fused image,
// each timed, median of REPEATS after one warm-up. Set beside model_bench
// (the network on tensors) and the served numbers (bench/serving_bench.sh),
// it says where a served request's time goes that is not the network's.
//
//   engine_bench CONFIG IR VIS MASK [REPEATS] [THREADS] [BATCH]
// BATCH > 1 runs that many copies of the pair as one batch (times are per
// batch; the last column is images/s).
// env: CTRLFUSE_BENCH_CHECKPOINT (weights; default seeded random, as
// model_bench), CTRLFUSE_BENCH_FLUSH_DENORMALS=0 (the engine's default off).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "image/codec.h"
#include "image/image_data.h"
#include "model/api/fusion_engine.h"

using namespace ctrlfuse;

namespace {
using ctrlfuse::bench::Median;
using ctrlfuse::bench::Now;
absl::StatusOr<cv::Mat> Load(const std::string& path) {
  auto bytes = image::ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return image::Decode(*bytes, path, uint64_t(1) << 26);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s CONFIG IR VIS MASK [REPEATS] [THREADS] [BATCH]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 5;
  api::EngineOptions e;
  e.config = argv[1];
  e.threads = argc > 6 ? std::atoi(argv[6]) : 0;
  const size_t batch = argc > 7 ? size_t(std::max(1, std::atoi(argv[7]))) : 1;
  if (const char* c = std::getenv("CTRLFUSE_BENCH_CHECKPOINT")) e.checkpoint = c;
  if (const char* f = std::getenv("CTRLFUSE_BENCH_FLUSH_DENORMALS")) e.flush_denormals = std::string(f) != "0";
  auto engine = api::FusionEngine::Create(e);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  std::vector<double> t_png_in, t_enc, t_dec, t_png_out;
  int width = 0, height = 0;
  for (int r = 0; r <= repeats; ++r) {
    const double t0 = Now();
    auto ir = Load(argv[2]), vis = Load(argv[3]), mask = Load(argv[4]);
    if (!ir.ok() || !vis.ok() || !mask.ok()) {
      std::fprintf(stderr, "cannot read the images\n");
      return 1;
    }
    width = ir->cols;
    height = ir->rows;
    const api::ImageData ir_data = image::ToImageData(*ir), vis_data = image::ToImageData(*vis);
    api::DecodeRequest d;
    d.mask = image::ToImageData(*mask).bytes;
    const double t1 = Now();
    auto pairs = (*engine)->Encode(std::vector<api::EncodeInput>(batch, api::EncodeInput{&ir_data, &vis_data, {}}));
    const double t2 = Now();
    if (!pairs.ok()) {
      std::fprintf(stderr, "encode: %s\n", std::string(pairs.status().message()).c_str());
      return 1;
    }
    std::vector<api::DecodeRequest> decode;
    for (const auto& p : *pairs) {
      decode.push_back(d);
      decode.back().pair = p;
    }
    auto fused = (*engine)->Decode(decode);
    const double t3 = Now();
    if (!fused.ok()) {
      std::fprintf(stderr, "decode: %s\n", std::string(fused.status().message()).c_str());
      return 1;
    }
    for (auto& f : *fused) {
      cv::Mat out(f.height, f.width, CV_8UC1, f.fused.data());
      if (!image::EncodePng(out).ok()) return 1;
    }
    const double t4 = Now();
    if (r == 0) continue;  // warm-up
    t_png_in.push_back(t1 - t0);
    t_enc.push_back(t2 - t1);
    t_dec.push_back(t3 - t2);
    t_png_out.push_back(t4 - t3);
  }

  // | config | WxH | batch | PNG decode s | encode s | decode s | PNG encode s | engine s | engine images/s |
  const double engine_s = Median(t_enc) + Median(t_dec);
  std::printf("| %s | %dx%d | %zu | %.4f | %.4f | %.4f | %.4f | %.4f | %.2f |\n", argv[1], width, height, batch,
              Median(t_png_in), Median(t_enc), Median(t_dec), Median(t_png_out), engine_s, double(batch) / engine_s);
  return 0;
}
