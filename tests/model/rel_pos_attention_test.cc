// The fused CPU attention of SAM's ViT blocks (model/sam/rel_pos_attention)
// against the attention written out in float64 (q kᵀ scaled, the decomposed
// bias broadcast-added, softmax, times v) and against SDPA with the bias as
// its mask (the path it replaces), on grids that leave partial query tiles
// and partial key blocks; its exp; its batch independence; and where it
// applies; and that its tiles reach every intra-op thread.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <limits>

#include "model/sam/rel_pos_attention.h"
#include "model/sam/rel_pos_softmax.h"

namespace ctrlfuse::model::sam {
namespace {

struct Inputs {
  torch::Tensor q, k, v, rel_h, rel_w;
};

Inputs RandomInputs(int64_t bh, int64_t h, int64_t w, int64_t d, double logit_scale) {
  torch::manual_seed(7);
  Inputs in;
  in.q = torch::randn({bh, h * w, d}) * logit_scale;
  in.k = torch::randn({bh, h * w, d});
  in.v = torch::randn({bh, h * w, d});
  in.rel_h = torch::randn({bh, h, w, h}) * 2;
  in.rel_w = torch::randn({bh, h, w, w}) * 2;
  return in;
}

torch::Tensor ExplicitFloat64(const Inputs& in, int64_t h, int64_t w, double scale) {
  auto q = in.q.to(torch::kFloat64), k = in.k.to(torch::kFloat64), v = in.v.to(torch::kFloat64);
  const int64_t bh = q.size(0);
  auto logits = torch::matmul(q * scale, k.transpose(1, 2)).view({bh, h, w, h, w});
  logits = logits + in.rel_h.to(torch::kFloat64).unsqueeze(-1) + in.rel_w.to(torch::kFloat64).unsqueeze(-2);
  return torch::matmul(torch::softmax(logits.view({bh, h * w, h * w}), -1), v);
}

double MaxAbs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Grids: ViT-B's 14x14 window (one tile, one block); 20x33 (7 grid rows per
// query tile and 15 per key block, both with a partial last one); 3x100 with
// ViT-H's head width 80 (tiles of 2 rows and 1); 2x600 (a grid row longer
// than a tile and a block: one row each); 1x1.
TEST(RelPosAttentionTest, MatchesTheAttentionWrittenOutInFloat64) {
  torch::InferenceMode guard;
  struct Grid {
    int64_t bh, h, w, d;
  };
  for (const Grid& g :
       {Grid{6, 14, 14, 64}, Grid{3, 20, 33, 64}, Grid{2, 3, 100, 80}, Grid{1, 2, 600, 16}, Grid{2, 1, 1, 16}}) {
    SCOPED_TRACE(testing::Message() << g.h << "x" << g.w << " d " << g.d);
    const double scale = 1.0 / std::sqrt(double(g.d));
    const Inputs in = RandomInputs(g.bh, g.h, g.w, g.d, 1.0);
    const auto fused = FusedRelPosAttention(in.q, in.k, in.v, in.rel_h, in.rel_w, scale);
    ASSERT_EQ(fused.sizes(), in.q.sizes());
    const auto reference = ExplicitFloat64(in, g.h, g.w, scale);
    // The SDPA path it replaces, in float32: the fused error against float64
    // is float32 rounding of the same size as SDPA's (|v| up to ~4.5).
    const auto bias = (in.rel_h.unsqueeze(-1) + in.rel_w.unsqueeze(-2)).view({g.bh, g.h * g.w, g.h * g.w});
    const auto sdpa = at::scaled_dot_product_attention(in.q, in.k, in.v, bias);
    const double fused_error = MaxAbs(fused, reference), sdpa_error = MaxAbs(sdpa, reference);
    EXPECT_LT(fused_error, 5e-6);
    EXPECT_LT(fused_error, 2 * sdpa_error + 1e-7);
    EXPECT_LT(MaxAbs(fused, sdpa), 5e-6);
  }
}

// Peaked rows (logits spread over ±hundreds): the running maximum moves
// between key blocks, so every rescaling path is taken, and terms far below
// the maximum underflow to nothing as in the reference.
TEST(RelPosAttentionTest, RescalesAcrossKeyBlocksOnPeakedRows) {
  torch::InferenceMode guard;
  const Inputs in = RandomInputs(2, 24, 40, 64, 12.0);
  const auto fused = FusedRelPosAttention(in.q, in.k, in.v, in.rel_h, in.rel_w, 0.125);
  const auto reference = ExplicitFloat64(in, 24, 40, 0.125);
  EXPECT_LT(MaxAbs(fused, reference), 2e-5);  // |v| up to ~4: relative ~5e-6
  EXPECT_FALSE(fused.isnan().any().item<bool>());
}

// Tiles depend on the grid alone: an image's heads give the same bits in a
// batch as alone, at any thread count.
TEST(RelPosAttentionTest, ABatchComputesWhatItsImagesDoAlone) {
  torch::InferenceMode guard;
  const Inputs in = RandomInputs(8, 20, 33, 64, 1.0);
  const auto batch = FusedRelPosAttention(in.q, in.k, in.v, in.rel_h, in.rel_w, 0.125);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto alone = FusedRelPosAttention(in.q.slice(0, 4), in.k.slice(0, 4), in.v.slice(0, 4), in.rel_h.slice(0, 4),
                                          in.rel_w.slice(0, 4), 0.125);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(batch.slice(0, 4), alone));
}

// The tiles run on LibTorch's intra-op threads only where the file is built
// with OpenMP (model/CMakeLists.txt): without it, at::parallel_for's inline
// loop ran every tile on the calling thread and two threads were no faster.
TEST(RelPosAttentionTest, ItsTilesSpreadOverTheIntraOpThreads) {
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  EXPECT_EQ(IntraOpThreadsReached(64), 2);
  at::set_num_threads(1);
  EXPECT_EQ(IntraOpThreadsReached(64), 1);
  at::set_num_threads(threads);
}

TEST(RelPosAttentionTest, ExpIsWithinTwoUlpOnTheWholeRange) {
  double worst_ulp = 0;
  for (float x = -87.0f; x <= 0.0f; x += 1.0f / 1024) {
    const double exact = std::exp(double(x));
    const double ulp = std::ldexp(1.0, std::ilogb(exact) - 23);
    worst_ulp = std::max(worst_ulp, std::fabs(double(ExpNonPositive(x)) - exact) / ulp);
  }
  EXPECT_LT(worst_ulp, 2.0);
  EXPECT_EQ(ExpNonPositive(0.0f), 1.0f);
  EXPECT_EQ(ExpNonPositive(-std::numeric_limits<float>::infinity()), ExpNonPositive(-87.0f));
}

TEST(RelPosAttentionTest, AppliesToFloatCpuInferenceOnly) {
  {
    torch::InferenceMode guard;
    EXPECT_TRUE(CanUseFusedRelPosAttention(torch::zeros({1, 4, 8})));
    EXPECT_FALSE(CanUseFusedRelPosAttention(torch::zeros({1, 4, 8}, torch::kBFloat16)));
    EXPECT_FALSE(CanUseFusedRelPosAttention(torch::zeros({1, 4, 8}, torch::kFloat64)));
  }
  // Training: a query that records its gradient takes the SDPA path.
  auto w = torch::ones({8, 8}, torch::requires_grad());
  EXPECT_FALSE(CanUseFusedRelPosAttention(torch::matmul(torch::zeros({1, 4, 8}), w)));
  EXPECT_TRUE(CanUseFusedRelPosAttention(torch::zeros({1, 4, 8})));  // grad mode on, nothing to record
}

}  // namespace
}  // namespace ctrlfuse::model::sam
