// GroundingDINO on this machine: text encoding alone (BERT + feat_map) and
// the image forward (Swin, encoder, selection, decoder) per image, at a
// given model input size, random weights, fp32, after one warm-up; median
// of REPEATS. Results go to docs/benchmarks.md with the machine and date.
//
//   grounding_bench CONFIG H W [REPEATS] [THREADS] [BATCH]
//   CONFIG: tiny | swint_ogc; H x W: the model input (the official
//   preprocessing gives 800 x 1066 for a 640 x 480 frame, 800 x 1333 at most).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "model/device.h"
#include "model/grounding/grounding_dino.h"

using namespace ctrlfuse::model;
using namespace ctrlfuse::model::grounding;

namespace {

template <typename F>
double MedianSeconds(int repeats, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// A caption of the shape users send, tokenized with a stand-in vocabulary
// (every piece its own id): the text cost depends on the length, not the ids.
TokenizedCaption Caption(int64_t words) {
  TokenizedCaption c;
  c.input_ids.push_back(101);
  for (int64_t i = 0; i < words; ++i) {
    c.input_ids.push_back(2000 + i);
    c.input_ids.push_back(1012);  // "."
  }
  c.input_ids.push_back(102);
  const int64_t n = c.length();
  c.position_ids.assign(n, 0);
  c.block_mask.assign(n * n, 0);
  for (int64_t i = 0; i < n; ++i) c.block_mask[i * n + i] = 1;
  for (int64_t w = 0; w < words; ++w) {
    const int64_t a = 1 + 2 * w;
    c.position_ids[a + 1] = 1;
    for (int64_t r = a; r <= a + 1; ++r)
      for (int64_t k = a; k <= a + 1; ++k) c.block_mask[r * n + k] = 1;
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s tiny|swint_ogc H W [REPEATS] [THREADS] [BATCH]\n", argv[0]);
    return 2;
  }
  GroundingDinoConfig config;
  if (!GroundingConfigByName(argv[1], &config)) {
    std::fprintf(stderr, "unknown config %s\n", argv[1]);
    return 2;
  }
  const int64_t h = std::atoi(argv[2]), w = std::atoi(argv[3]);
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  const int threads = argc > 5 ? std::atoi(argv[5]) : 0;
  const int64_t batch = argc > 6 ? std::atoi(argv[6]) : 1;
  ConfigureThreads(threads);
  torch::InferenceMode guard;
  torch::manual_seed(0);
  GroundingDino model(config);
  model->eval();
  const TokenizedCaption caption = Caption(3);  // "person . car . bicycle ."
  const std::vector<const TokenizedCaption*> captions(static_cast<size_t>(batch), &caption);
  const TextInputs inputs = BatchCaptions(captions, torch::kCPU);
  const torch::Tensor images = torch::randn({batch, 3, h, w});
  TextState text = model->EncodeText(inputs);
  model->forward(images, torch::Tensor(), text);  // warm-up
  const double text_s = MedianSeconds(repeats, [&] { text = model->EncodeText(inputs); });
  const double image_s = MedianSeconds(repeats, [&] { model->forward(images, torch::Tensor(), text); });
  std::printf("config=%s input=%lldx%lld batch=%lld threads=%d repeats=%d text_ms=%.1f image_s=%.3f per_image_s=%.3f\n",
              argv[1], static_cast<long long>(h), static_cast<long long>(w), static_cast<long long>(batch),
              torch::get_num_threads(), repeats, text_s * 1e3, image_s, image_s / batch);
  return 0;
}
