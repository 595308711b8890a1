// Per-stage profile of the CtrlFuse forward (not a test): for each stage its
// FLOPs (counted from the weights and the sizes they run at), its time, its
// achieved GFLOP/s against the SGEMM peak measured here with the BLAS we
// link, its share of the forward, and the minor page faults it took.
// Prints markdown for docs/performance.md. Env: CTRLFUSE_PROFILE_TRACE
// (below).
// usage: profile_bench CONFIG WIDTH HEIGHT [BATCH] [REPEATS] [THREADS]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "bench/timing.h"
#include "model/ctrlfuse_net.h"
#include "model/device.h"
#include "model/psfm.h"
#include "model/reference_prompt_encoder.h"
#include "model/sam/image_encoder.h"

namespace {
using namespace ctrlfuse::model;
using Clock = std::chrono::steady_clock;

using ctrlfuse::bench::Median;
long MinorFaults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

struct Row {
  std::string stage;
  double gflop = 0, seconds = 0;
  long faults = 0;
};

// Median seconds and faults per run of `fn` over `repeats` runs after one
// warm-up run.
Row Time(const std::string& stage, double gflop, int repeats, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  const long f0 = MinorFaults();
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return {stage, gflop, Median(t), (MinorFaults() - f0) / repeats};
}

// Multiply-accumulates of every Conv2d/Linear weight below `m` applied at
// `positions` output positions (full-resolution stacks: one size for all).
double WeightMacs(const torch::nn::Module& m, double positions) {
  double n = 0;
  for (const auto& p : m.named_parameters())
    if (p.key().size() >= 6 && p.key().compare(p.key().size() - 6, 6, "weight") == 0 && p.value().dim() >= 2)
      n += double(p.value().numel());
  return n * positions;
}
double ParamNumel(const torch::nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters())
    if (p.key() == name) return double(p.value().numel());
  std::fprintf(stderr, "no parameter %s\n", name.c_str());
  std::exit(2);
}

template <typename T>
std::shared_ptr<T> Child(torch::nn::Module& m, const std::string& path) {
  for (const auto& item : m.named_modules())
    if (item.key() == path) return std::dynamic_pointer_cast<T>(item.value());
  std::fprintf(stderr, "no module %s\n", path.c_str());
  std::exit(2);
}

// Best SGEMM rate (GFLOP/s) over square sizes, LibTorch's matmul (MKL here).
double SgemmPeak(std::vector<double>* each) {
  double best = 0;
  for (int64_t n : {1024, 2048, 3072}) {
    auto a = torch::randn({n, n}), b = torch::randn({n, n}), c = torch::empty({n, n});
    torch::matmul_out(c, a, b);
    std::vector<double> t;
    for (int r = 0; r < 3; ++r) {
      auto t0 = Clock::now();
      torch::matmul_out(c, a, b);
      t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    const double rate = 2.0 * n * n * n / Median(t) / 1e9;
    each->push_back(rate);
    best = std::max(best, rate);
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s CONFIG WIDTH HEIGHT [BATCH] [REPEATS] [THREADS]\n", argv[0]);
    return 2;
  }
  ModelConfig config;
  if (!FindConfig(argv[1], &config)) return 2;
  const int64_t w = std::atoi(argv[2]), h = std::atoi(argv[3]);
  const int64_t b = argc > 4 ? std::atoi(argv[4]) : 1;
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 3;
  ConfigureThreads(argc > 6 ? std::atoi(argv[6]) : 0);
  const int threads = at::get_num_threads();
  torch::manual_seed(0);
  CtrlFuseNet net(config);
  net->eval();
  torch::InferenceMode guard;
  auto vis = torch::rand({b, 1, h, w}).expand({b, 3, h, w}).contiguous();
  auto ir = torch::rand({b, 1, h, w}).expand({b, 3, h, w}).contiguous();
  auto mask = torch::zeros({b, 1, h, w});
  mask.slice(2, h / 4, h / 2).slice(3, w / 4, w / 2).fill_(1);

  std::vector<double> sizes;
  const double peak = SgemmPeak(&sizes);
  const double hw = double(b) * h * w;
  const SamConfig& s = config.sam;
  const double g = s.grid(), d = config.feature_dim, e = s.embed_dim;
  const double tokens = double(b) * g * g;
  const double n_q = config.num_queries;
  std::vector<Row> rows;
  auto& fe1 = *Child<FeatureExtractorImpl>(*net, "feature_extractor1");
  auto& fe2 = *Child<FeatureExtractorImpl>(*net, "feature_extractor2");
  auto& merge = *Child<Conv1x1ReLUImpl>(*net, "merge_2c");
  auto& decoder = *Child<ImageDecoderImpl>(*net, "image_decoder");
  torch::Tensor f_vis, f_ir, f_ref, i_ref;
  rows.push_back(Time("feature extractors (2)", 2 * (WeightMacs(fe1, hw) + WeightMacs(fe2, hw)) / 1e9, repeats, [&] {
    f_vis = fe1.forward(vis);
    f_ir = fe2.forward(ir);
  }));
  rows.push_back(Time("F_ref + I_ref (merge, image decoder)",
                      2 * (WeightMacs(merge, hw) + WeightMacs(decoder, hw)) / 1e9, repeats, [&] {
                        f_ref = merge.forward(torch::cat({f_vis, f_ir}, 1));
                        i_ref = decoder.forward(f_ref);
                      }));

  // SAM's image encoder, block by block.
  auto& enc = *net->sam_model->image_encoder;
  torch::Tensor x;
  const double patch_macs = double(b) * g * g * 3 * s.patch * s.patch * e;
  rows.push_back(Time("SAM resize + patch embed", 2 * patch_macs / 1e9, repeats, [&] {
    namespace F = torch::nn::functional;
    auto in = F::interpolate(i_ref.expand({-1, 3, -1, -1}), F::InterpolateFuncOptions()
                                                                .size(std::vector<int64_t>{s.img_size, s.img_size})
                                                                .mode(torch::kBilinear)
                                                                .align_corners(true));
    x = enc.EmbedPatches(in);
  }));
  const double windows = std::ceil(g / s.window), padded = double(b) * windows * windows * s.window * s.window;
  Row win{"SAM windowed blocks (" + std::to_string(s.depth - s.global_attn_indexes.size()) + ")"};
  Row glob{"SAM global blocks (" + std::to_string(s.global_attn_indexes.size()) + ")"};
  for (int i = 0; i < s.depth; ++i) {
    auto& blk = *Child<sam::ViTBlockImpl>(enc, "blocks." + std::to_string(i));
    const bool global =
        std::find(s.global_attn_indexes.begin(), s.global_attn_indexes.end(), i) != s.global_attn_indexes.end();
    const std::string p = "blocks." + std::to_string(i) + ".";
    const double attn_rows = global ? tokens : padded;
    const double linear =
        attn_rows * (ParamNumel(enc, p + "attn.qkv.weight") + ParamNumel(enc, p + "attn.proj.weight")) +
        tokens * (ParamNumel(enc, p + "mlp.lin1.weight") + ParamNumel(enc, p + "mlp.lin2.weight"));
    // q k^T and p v: 2 * (rows per attention) * (keys) * e per image.
    const double attn = global ? 2 * tokens * g * g * e : 2 * padded * s.window * s.window * e;
    torch::Tensor y;
    Row r = Time("block", 2 * (linear + attn) / 1e9, repeats, [&] { y = blk.forward(x); });
    x = y;
    Row& sum = global ? glob : win;
    sum.gflop += r.gflop;
    sum.seconds += r.seconds;
    sum.faults += r.faults;
  }
  rows.push_back(win);
  rows.push_back(glob);
  torch::Tensor emb;
  auto& neck = *Child<torch::nn::SequentialImpl>(enc, "neck");
  rows.push_back(Time("SAM neck", 2 * WeightMacs(neck, tokens) / 1e9, repeats, [&] {
    emb = neck.forward(x.permute({0, 3, 1, 2}));
  }));

  // The PSFMs' prompt-free parts (encode): the 2x2/2 conv and GroupNorm,
  // the attention's key/value projections of HW/4 rows, conv1x1's F half.
  auto& p1 = *Child<PromptSemanticFusionImpl>(*net, "token2image1");
  auto& p2 = *Child<PromptSemanticFusionImpl>(*net, "token2image2");
  const double prep_macs = (hw / 4) * ParamNumel(p1, "downsample.0.weight") + 2 * (hw / 4) * d * d + hw * d * d;
  PsfmFeatures pv, pi;
  rows.push_back(Time("PSFM prompt-free parts (2)", 2 * 2 * prep_macs / 1e9, repeats, [&] {
    pv = p1.Prepare(f_vis);
    pi = p2.Prepare(f_ir);
  }));
  const int gi = int(g);
  Encoding en{f_ref, i_ref, emb, ToPromptGrid(f_ref, gi), ToPromptGrid(f_vis, gi), ToPromptGrid(f_ir, gi), pv, pi};

  // Decode: RPEs, SAM's mask decoder per branch, PSFMs, the final decoder.
  auto& mv = *Child<Conv1x1ReLUImpl>(*net, "merge_v");
  QueryDecoder dv(Child<QueryDecoderImpl>(*net, "transformer_decoder_v"));
  QueryDecoder di(Child<QueryDecoderImpl>(*net, "transformer_decoder_i"));
  Conv1x1ReLU mvh(Child<Conv1x1ReLUImpl>(*net, "merge_v")), mih(Child<Conv1x1ReLUImpl>(*net, "merge_i"));
  torch::Tensor tv, ti;
  const double g2 = double(b) * g * g;
  // merges (support + query), the similarity, and per cross-attention the
  // K/V projections of g^2 memory rows plus the attention itself.
  const double rpe_macs =
      2 * WeightMacs(mv, g2) + g2 * g * g * d + 2 * (2 * g2 * d * d + 2 * double(b) * n_q * g * g * d);
  rows.push_back(Time("RPEs (2)", 2 * 2 * rpe_macs / 1e9, repeats, [&] {
    tv = EncodeReferencePrompt(mvh, dv, en.grid_ref, en.grid_vis, mask);
    ti = EncodeReferencePrompt(mih, di, en.grid_ref, en.grid_ir, mask);
  }));
  auto& md = *net->sam_model->mask_decoder;
  const double od = s.out_chans;
  const double di_ = od / s.attn_downsample;
  double md_macs = 0;
  for (int l = 0; l < s.decoder_depth; ++l) md_macs += g2 * 4 * od * di_;  // t->i K,V; i->t Q, out
  md_macs += g2 * 2 * od * di_;                                            // final t->i K,V
  md_macs += g2 * ParamNumel(md, "output_upscaling.0.weight") + 4 * g2 * ParamNumel(md, "output_upscaling.3.weight");
  torch::Tensor lv, li;
  rows.push_back(Time("SAM mask decoder (2) + resize", 2 * 2 * md_macs / 1e9, repeats, [&] {
    for (auto* pair : {&tv, &ti}) {
      sam::SparsePrompts prompts;
      prompts.tokens = *pair;
      auto [sparse, dense] = net->sam_model->prompt_encoder->forward(prompts, b);
      auto pred = md.forward(emb, net->sam_model->prompt_encoder->DensePositionalEncoding(), sparse, dense, false);
      namespace F = torch::nn::functional;
      (pair == &tv ? lv : li) = F::interpolate(
          pred.low_res_logits,
          F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(true));
    }
  }));
  // Per prompt: the attention of N queries over HW/4 keys, then the
  // factored map (9 taps x r x c tokens) formed once per output value.
  const double rc = double(config.token_rows()) * config.token_cols();
  const double fuse_macs = double(b) * n_q * d * d + 2 * double(b) * n_q * (hw / 4) * d + double(b) * 9 * d * d * rc +
                           hw * d * 3 * config.token_rows();
  torch::Tensor fp_vis, fp_ir;
  rows.push_back(Time("PSFM fuse (2)", 2 * 2 * fuse_macs / 1e9, repeats, [&] {
    fp_vis = p1.Fuse(tv, pv);
    fp_ir = p2.Fuse(ti, pi);
  }));
  rows.push_back(Time("fusion + image decoder", 2 * WeightMacs(decoder, hw) / 1e9, repeats, [&] {
    auto q = fp_vis * ReleaseMaskThreshold(lv).to(torch::kFloat32) +
             fp_ir * ReleaseMaskThreshold(li).to(torch::kFloat32) + f_ref;
    decoder.forward(q);
  }));

  Row fwd = Time("whole forward (encode + decode)", 0, repeats, [&] { net->forward(vis, ir, mask); });
  auto e1 = net->Encode(vis, ir);
  Row dec = Time("decode alone (re-prompt)", 0, repeats, [&] { net->Decode(e1, mask); });
  double total_gflop = 0, total_s = 0;
  for (const auto& r : rows) total_gflop += r.gflop, total_s += r.seconds;

  std::printf("%s %lldx%lld batch %lld, %d threads, malloc %s, median of %d. SGEMM peak %.1f GFLOP/s (", argv[1],
              (long long)w, (long long)h, (long long)b, threads, HostMallocIsTcmalloc() ? "tcmalloc" : "glibc", repeats,
              peak);
  for (size_t i = 0; i < sizes.size(); ++i) std::printf("%s%d: %.1f", i ? ", " : "", 1024 * int(i + 1), sizes[i]);
  std::printf(
      ")\n\n| stage | GFLOP | s | GFLOP/s | of peak | of forward | minor faults |\n|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows)
    std::printf("| %s | %.1f | %.3f | %.1f | %.0f %% | %.0f %% | %ld |\n", r.stage.c_str(), r.gflop, r.seconds,
                r.gflop / r.seconds, 100 * r.gflop / r.seconds / peak, 100 * r.seconds / fwd.seconds, r.faults);
  std::printf("| sum of stages | %.1f | %.3f | %.1f | %.0f %% | %.0f %% | |\n", total_gflop, total_s,
              total_gflop / total_s, 100 * total_gflop / total_s / peak, 100 * total_s / fwd.seconds);
  std::printf("| %s | %.1f | %.3f | %.1f | %.0f %% | 100 %% | %ld |\n", fwd.stage.c_str(), total_gflop, fwd.seconds,
              total_gflop / fwd.seconds, 100 * total_gflop / fwd.seconds / peak, fwd.faults);
  std::printf("| %s | | %.3f | | | %.0f %% | %ld |\n", dec.stage.c_str(), dec.seconds, 100 * dec.seconds / fwd.seconds,
              dec.faults);
  // CTRLFUSE_PROFILE_TRACE=FILE: one more forward under LibTorch's
  // profiler, written as a Chrome trace (bench/op_breakdown.py sums it up
  // by operator).
  if (const char* trace = std::getenv("CTRLFUSE_PROFILE_TRACE")) {
    torch::autograd::profiler::RecordProfile record(trace);
    net->forward(vis, ir, mask);
  }
  return 0;
}
