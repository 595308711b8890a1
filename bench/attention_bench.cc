// Attention benchmark (not a test): SAM ViT attention with its decomposed
// relative-position bias, written out (matmul, add, softmax, matmul: the
// form used before LibTorch 2.x) against scaled_dot_product_attention with
// the bias as its additive mask (the form model/sam/image_encoder.cc uses),
// on ViT-B's shapes, and both again over query chunks of 1-8 grid rows
// (the bias made one chunk at a time, as image_encoder.cc does for global
// blocks), and per head in cache-sized tiles with the bias added in place
// (tried for the global blocks and not kept: docs/performance.md), and
// model/sam/rel_pos_attention.cc's fused kernel, the network's CPU path.
// Prints the time of each and their max |difference| from unchunked SDPA.
// usage: attention_bench [REPEATS] [THREADS=2] [fused: that form only]
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "model/sam/rel_pos_attention.h"

namespace {
using ctrlfuse::bench::Median;
template <typename F>
double Time(F f, int repeats) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return Median(t);
}
}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
  at::set_num_threads(argc > 2 ? std::atoi(argv[2]) : 2);
  const bool fused_only = argc > 3 && std::string(argv[3]) == "fused";
  torch::InferenceMode guard;
  torch::manual_seed(0);
  std::printf("| block | shape [B*heads, tokens, dim] | explicit s | SDPA s | SDPA / explicit | max abs diff |\n");
  std::printf("|---|---|---|---|---|---|\n");
  struct Case {
    const char* name;
    int64_t bh, side, hd;
  };
  // ViT-B at 1024: 12 heads of 64; global blocks see the 64x64 grid, windowed
  // blocks 25 windows of 14x14 (the grid padded to 70x70).
  for (const Case& c : {Case{"global (x4 per image)", 12, 64, 64}, Case{"windowed (x8 per image)", 12 * 25, 14, 64}}) {
    const int64_t n = c.side * c.side;
    auto q = torch::randn({c.bh, n, c.hd}), k = torch::randn({c.bh, n, c.hd}), v = torch::randn({c.bh, n, c.hd});
    auto rel_h = torch::randn({c.bh, c.side, c.side, c.side}), rel_w = torch::randn({c.bh, c.side, c.side, c.side});
    const double scale = 1.0 / std::sqrt(double(c.hd));
    torch::Tensor a, b;
    auto explicit_form = [&] {
      auto attn = torch::matmul(q * scale, k.transpose(-2, -1));
      attn = (attn.view({c.bh, c.side, c.side, c.side, c.side}) + rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2))
                 .view({c.bh, n, n});
      a = torch::matmul(torch::softmax(attn, -1), v);
    };
    auto sdpa_form = [&] {
      auto bias = (rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)).view({c.bh, n, n});
      b = at::scaled_dot_product_attention(q, k, v, bias);
    };
    sdpa_form();  // warm, and the reference
    // The network's CPU path (model/sam/rel_pos_attention.cc): per head and
    // cache-sized tile, bias, softmax and both products fused.
    auto report_fused = [&] {
      torch::Tensor f;
      auto fused = [&] { f = ctrlfuse::model::sam::FusedRelPosAttention(q, k, v, rel_h, rel_w, scale); };
      fused();
      const double tf = Time(fused, repeats);
      std::printf("| %s, fused (rel_pos_attention) | | | %.3f | | %.2e |\n", c.name, tf,
                  (f - b).abs().max().item<double>());
    };
    if (fused_only) {
      report_fused();
      continue;
    }
    explicit_form();
    const double te = Time(explicit_form, repeats), ts = Time(sdpa_form, repeats);
    std::printf("| %s | [%ld, %ld, %ld] | %.3f | %.3f | %.2f | %.2e |\n", c.name, long(c.bh), long(n), long(c.hd), te,
                ts, ts / te, (a - b).abs().max().item<double>());
    // Query chunks of `rows` grid rows: the bias exists one chunk at a time.
    for (int64_t rows : {1, 2, 4, 8}) {
      if (rows > c.side) continue;
      torch::Tensor out_s = torch::empty_like(q), out_e = torch::empty_like(q);
      auto chunked = [&](bool sdpa) {
        for (int64_t y0 = 0; y0 < c.side; y0 += rows) {
          const int64_t y1 = std::min(c.side, y0 + rows), qn = (y1 - y0) * c.side;
          auto bias = (rel_h.slice(1, y0, y1).unsqueeze(-1) + rel_w.slice(1, y0, y1).unsqueeze(-2)).view({c.bh, qn, n});
          auto qc = q.slice(1, y0 * c.side, y1 * c.side);
          if (sdpa) {
            out_s.slice(1, y0 * c.side, y1 * c.side).copy_(at::scaled_dot_product_attention(qc, k, v, bias));
          } else {
            auto logits = at::baddbmm(bias, qc, k.transpose(1, 2), 1.0, scale);
            at::_softmax_out(logits, logits, -1, false);
            auto dst = out_e.slice(1, y0 * c.side, y1 * c.side);
            at::bmm_out(dst, logits, v);
          }
        }
      };
      chunked(true);
      chunked(false);
      const double tcs = Time([&] { chunked(true); }, repeats), tce = Time([&] { chunked(false); }, repeats);
      std::printf("| %s, chunks of %ld rows: SDPA / explicit | | %.3f | %.3f | | %.2e / %.2e |\n", c.name, long(rows),
                  tce, tcs, (out_e - b).abs().max().item<double>(), (out_s - b).abs().max().item<double>());
    }
    // One head and `rows` grid rows of queries at a time, the bias added in
    // place to a logits tile that stays in cache (the bias never exists
    // whole), softmax in place, the tile times v into the output.
    for (int64_t rows : {1, 2, 4}) {
      if (rows > c.side) continue;
      torch::Tensor out_t = torch::empty_like(q), tile = torch::empty({rows * c.side, n});
      auto tiled = [&] {
        auto qs = q * scale;
        for (int64_t h = 0; h < c.bh; ++h) {
          auto kt = k[h].t(), vh = v[h], qh = qs[h], oh = out_t[h];
          for (int64_t y0 = 0; y0 < c.side; y0 += rows) {
            const int64_t y1 = std::min(c.side, y0 + rows), qn = (y1 - y0) * c.side;
            auto s = tile.narrow(0, 0, qn);
            at::mm_out(s, qh.narrow(0, y0 * c.side, qn), kt);
            auto s5 = s.view({y1 - y0, c.side, c.side, c.side});
            s5.add_(rel_h[h].slice(0, y0, y1).unsqueeze(-1));
            s5.add_(rel_w[h].slice(0, y0, y1).unsqueeze(-2));
            at::_softmax_out(s, s, -1, false);
            auto dst = oh.narrow(0, y0 * c.side, qn);
            at::mm_out(dst, s, vh);
          }
        }
      };
      tiled();
      const double tt = Time(tiled, repeats);
      std::printf("| %s, per head, tiles of %ld rows | | | %.3f | | %.2e |\n", c.name, long(rows), tt,
                  (out_t - b).abs().max().item<double>());
    }
    report_fused();
  }
  return 0;
}
