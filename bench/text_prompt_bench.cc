// A text-prompt request's model work, stage by stage, through the engines
// the server uses (model/api): GroundingDINO on the visible image, SAM on
// its boxes, CtrlFuse encode + decode with the mask. Random weights (boxes
// pass a low threshold), fp32; median of REPEATS after one warm-up.
//
//   text_prompt_bench GROUNDING_CONFIG FUSION_CONFIG W H [REPEATS] [VOCAB]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "image/image_data.h"
#include "image/scenes.h"
#include "model/api/fusion_engine.h"
#include "model/api/grounding_engine.h"

using namespace ctrlfuse;

namespace {
using ctrlfuse::bench::Median;
using ctrlfuse::bench::Now;
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s tiny|swint_ogc FUSION_CONFIG W H [REPEATS] [VOCAB]\n", argv[0]);
    return 2;
  }
  const int w = std::atoi(argv[3]), h = std::atoi(argv[4]);
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 3;
  std::string vocab = argc > 6 ? argv[6] : "";
  if (vocab.empty()) {  // a stand-in vocabulary: cost depends on the token count, not the ids
    vocab = (std::filesystem::temp_directory_path() / "ctrlfuse_bench_vocab.txt").string();
    std::ofstream out(vocab);
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", ".", "?", "person", "car", "bicycle"}) out << t << "\n";
  }
  api::EngineOptions e;
  e.config = argv[2];
  auto fusion = api::FusionEngine::Create(e);
  api::GroundingOptions g;
  g.config = argv[1];
  g.vocab = vocab;
  g.max_batch = 1;
  auto grounding = api::GroundingEngine::Create(g);
  if (!fusion.ok() || !grounding.ok()) {
    std::fprintf(stderr, "%s %s\n", std::string(fusion.status().message()).c_str(),
                 std::string(grounding.status().message()).c_str());
    return 1;
  }
  image::SceneOptions s;
  s.width = w;
  s.height = h;
  const auto scene = image::GenerateScene(s);
  const api::ImageData ir = image::ToImageData(scene.infrared), vis = image::ToImageData(scene.visible);
  api::GroundingQuery q;
  q.caption = "person . car . bicycle .";
  q.box_threshold = q.text_threshold = 0.05f;
  std::vector<double> t_ground, t_sam, t_fuse;
  size_t boxes = 0;
  for (int r = 0; r <= repeats; ++r) {
    const double t0 = Now();
    auto found = (*grounding)->Detect(vis, q);
    const double t1 = Now();
    if (!found.ok()) return 1;
    api::GeometricPrompt prompt;
    for (const auto& d : found->detections) prompt.boxes.push_back({d.x0, d.y0, d.x1, d.y1});
    if (prompt.boxes.size() > 64) prompt.boxes.resize(64);
    boxes = prompt.boxes.size();
    std::vector<uint8_t> mask(size_t(w) * h, 0);
    if (!prompt.boxes.empty()) mask = *(*fusion)->SegmentVisible(vis, prompt);
    const double t2 = Now();
    auto pair = (*fusion)->Encode({api::EncodeInput{&ir, &vis, {}}});
    api::DecodeRequest d;
    d.pair = (*pair)[0];
    d.mask = mask;
    auto fused = (*fusion)->Decode({d});
    const double t3 = Now();
    if (!fused.ok()) return 1;
    if (r == 0) continue;  // warm-up
    t_ground.push_back(t1 - t0), t_sam.push_back(t2 - t1), t_fuse.push_back(t3 - t2);
  }
  std::printf(
      "grounding=%s fusion=%s image=%dx%d repeats=%d boxes=%zu grounding_s=%.3f sam_boxes_s=%.3f fusion_s=%.3f "
      "total_s=%.3f\n",
      argv[1], argv[2], w, h, repeats, boxes, Median(t_ground), Median(t_sam), Median(t_fuse),
      Median(t_ground) + Median(t_sam) + Median(t_fuse));
  return 0;
}
