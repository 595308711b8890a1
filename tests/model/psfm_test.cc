// The PSFM's factored computation (Prepare + Fuse) against the release's
// literal one (ForwardAsReleased) on random weights, norms away from their
// identity init: values and, for training, gradients. Sizes whose half is
// not a multiple of the token map's, batch 2.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "model/psfm.h"

namespace ctrlfuse::model {
namespace {

PromptSemanticFusion RandomPsfm(int dim, int heads, int groups, int rows, int cols) {
  PromptSemanticFusion p(dim, heads, groups, rows, cols);
  torch::NoGradGuard no_grad;
  for (auto& param : p->named_parameters()) {
    auto& v = param.value();
    if (v.dim() != 1) continue;
    // 1-D: GroupNorm weights (around 1) and every bias (around 0).
    const bool norm_weight = param.key().size() > 6 && param.key().substr(param.key().size() - 6) == "weight";
    v.copy_(torch::randn_like(v) * 0.3 + (norm_weight ? 1.0 : 0.0));
  }
  return p;
}

double RelativeError(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

TEST(PsfmTest, FactoredEqualsTheReleasesComputation) {
  torch::manual_seed(5);
  for (auto [h, w, rows, cols] : {std::array<int, 4>{22, 30, 5, 10}, {16, 16, 2, 4}, {48, 64, 5, 8}, {2, 2, 1, 3}}) {
    auto p = RandomPsfm(32, 4, 8, rows, cols);
    auto tokens = torch::randn({2, rows * cols, 32});
    auto feats = torch::randn({2, 32, h, w});
    torch::NoGradGuard no_grad;
    auto want = p->ForwardAsReleased(tokens, feats);
    auto got = p->Fuse(tokens, p->Prepare(feats));
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT(RelativeError(got, want), 2e-6) << h << "x" << w << " tokens " << rows << "x" << cols;
    // Row 1 alone (a cached encoding's slice) decodes the same.
    auto one = p->Fuse(tokens.slice(0, 1, 2), p->Prepare(feats).Slice(1, 2));
    EXPECT_LT(RelativeError(one, want.slice(0, 1, 2)), 2e-6);
  }
}

TEST(PsfmTest, GradientsEqualTheReleasesComputation) {
  torch::manual_seed(6);
  auto p = RandomPsfm(16, 2, 4, 2, 4);
  auto tokens = torch::randn({2, 8, 16}, torch::requires_grad());
  auto feats = torch::randn({2, 16, 12, 18}, torch::requires_grad());
  auto weight = torch::randn({2, 16, 12, 18});
  auto grads = [&](bool factored) {
    p->zero_grad();
    tokens.mutable_grad() = torch::Tensor();
    feats.mutable_grad() = torch::Tensor();
    auto out = factored ? p->forward(tokens, feats) : p->ForwardAsReleased(tokens, feats);
    (out * weight).sum().backward();
    std::vector<torch::Tensor> g = {tokens.grad().clone(), feats.grad().clone()};
    for (auto& param : p->parameters()) g.push_back(param.grad().clone());
    return g;
  };
  auto want = grads(false), got = grads(true);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_LT(RelativeError(got[i], want[i]), 1e-4) << "gradient " << i;
}

}  // namespace
}  // namespace ctrlfuse::model
