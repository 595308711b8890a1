// Forward behaviour of the tiny configuration: shapes, ranges, batch
// consistency, encode+decode == forward, and prompt control.
#include <gtest/gtest.h>

#include "model/preprocess.h"
#include "tests/model/test_util.h"

namespace ctrlfuse::model {
namespace {
using testing::BoxMask;
using testing::MakeTiny;
using testing::SyntheticPair;

void ExpectShapes(const FusionOutput& o, int64_t b, int64_t h, int64_t w) {
  const std::vector<int64_t> want{b, 1, h, w};
  for (const auto* t :
       {&o.i_ref, &o.logit_mask_vis, &o.logit_mask_ir, &o.pred_mask_vis, &o.pred_mask_ir, &o.pred_mask, &o.fused})
    EXPECT_EQ(t->sizes(), want);
  EXPECT_EQ(o.pred_mask.scalar_type(), torch::kBool);
  EXPECT_GT(o.fused.min().item<float>(), 0.f);
  EXPECT_LT(o.fused.max().item<float>(), 1.f);
}

// The release thresholds sigmoid(logit) > 0.5; logit > 0 differs for tiny
// positive logits, whose fp32 sigmoid is exactly 0.5.
TEST(ShapesTest, MasksAreSigmoidAboveOneHalfAsReleased) {
  auto logits = torch::tensor({-1.0f, 0.0f, 1e-9f, 1e-8f, 5e-8f, 1e-6f, 3.0f});
  auto got = ReleaseMaskThreshold(logits);
  EXPECT_TRUE(torch::equal(got, torch::sigmoid(logits) > 0.5));
  EXPECT_FALSE(got[2].item<bool>());  // 1e-9: sigmoid is 0.5 exactly
  EXPECT_FALSE(got[3].item<bool>());
  EXPECT_TRUE((logits > 0)[3].item<bool>());  // where logit > 0 would say yes
  EXPECT_TRUE(got[5].item<bool>());
  EXPECT_TRUE(got[6].item<bool>());
  EXPECT_FALSE(got[1].item<bool>());
}

TEST(ShapesTest, SquareAndNonSquare) {
  auto net = MakeTiny();
  torch::InferenceMode guard;
  for (auto [h, w] : {std::pair<int64_t, int64_t>{64, 64}, {48, 80}, {90, 34}}) {
    auto [vis, ir] = SyntheticPair(2, h, w);
    auto out = net->forward(vis, ir, BoxMask(2, h, w, h / 4, h / 2, w / 4, w / 2));
    ExpectShapes(out, 2, h, w);
  }
}

TEST(ShapesTest, OddSizesArePaddedAndCroppedBack) {
  auto net = MakeTiny();
  torch::InferenceMode guard;
  auto [vis, ir] = SyntheticPair(1, 47, 81);
  auto mask = BoxMask(1, 47, 81, 10, 30, 10, 40);
  EXPECT_THROW(net->forward(vis, ir, mask), std::invalid_argument);
  auto out = net->forward(PadToEven(vis), PadToEven(ir), PadToEven(mask));
  ExpectShapes(out, 1, 48, 82);
  EXPECT_EQ(CropTo(out.fused, 47, 81).sizes(), (std::vector<int64_t>{1, 1, 47, 81}));
  // Replicate padding: the added row equals the last real row.
  auto padded = PadToEven(vis);
  EXPECT_TRUE(torch::equal(padded.select(2, 47), padded.select(2, 46)));
}

TEST(ShapesTest, EncodeThenDecodeEqualsForwardExactly) {
  auto net = MakeTiny();
  torch::InferenceMode guard;
  auto [vis, ir] = SyntheticPair(2, 64, 96);
  auto mask = BoxMask(2, 64, 96, 16, 48, 20, 60);
  auto one_shot = net->forward(vis, ir, mask);
  auto enc = net->Encode(vis, ir);
  auto split = net->Decode(enc, mask);
  EXPECT_TRUE(torch::equal(one_shot.fused, split.fused));
  EXPECT_TRUE(torch::equal(one_shot.logit_mask_vis, split.logit_mask_vis));
  EXPECT_TRUE(torch::equal(one_shot.logit_mask_ir, split.logit_mask_ir));
  EXPECT_TRUE(torch::equal(one_shot.i_ref, split.i_ref));
  // Re-prompting the cached encoding with another mask equals a cold run.
  auto mask2 = BoxMask(2, 64, 96, 0, 20, 0, 30);
  EXPECT_TRUE(torch::equal(net->forward(vis, ir, mask2).fused, net->Decode(enc, mask2).fused));
}

TEST(ShapesTest, BatchOfThreeEqualsThreeSingles) {
  auto net = MakeTiny();
  torch::InferenceMode guard;
  auto [vis, ir] = SyntheticPair(3, 64, 64);
  auto mask =
      torch::cat({BoxMask(1, 64, 64, 0, 32, 0, 32), BoxMask(1, 64, 64, 20, 60, 10, 50), torch::zeros({1, 1, 64, 64})});
  auto batched = net->forward(vis, ir, mask);
  for (int64_t i = 0; i < 3; ++i) {
    auto single = net->forward(vis.slice(0, i, i + 1), ir.slice(0, i, i + 1), mask.slice(0, i, i + 1));
    EXPECT_TRUE(torch::allclose(batched.fused.slice(0, i, i + 1), single.fused, 1e-4, 1e-5)) << i;
    EXPECT_TRUE(torch::allclose(batched.logit_mask_vis.slice(0, i, i + 1), single.logit_mask_vis, 1e-3, 1e-4)) << i;
  }
}

// With SAM's mask decoder fixed to predict "on" everywhere, the prompt
// reaches the fused image only through the RPE tokens and the PSFMs: a
// different mask must change the fused output.
TEST(ShapesTest, PromptControlsTheFusedImage) {
  auto net = MakeTiny();
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : StateDict(*net)) {
      if (name.find("output_hypernetworks_mlps.0.layers.2.weight") != std::string::npos) p.zero_();
      if (name.find("output_hypernetworks_mlps.0.layers.2.bias") != std::string::npos) p.fill_(1.0);
      if (name == "sam_model.mask_decoder.output_upscaling.3.bias") p.fill_(5.0);
    }
  }
  torch::InferenceMode guard;
  auto [vis, ir] = SyntheticPair(1, 64, 64);
  auto a = net->forward(vis, ir, BoxMask(1, 64, 64, 0, 24, 0, 24));
  auto b = net->forward(vis, ir, BoxMask(1, 64, 64, 36, 64, 30, 64));
  auto empty = net->forward(vis, ir, torch::zeros({1, 1, 64, 64}));
  auto full = net->forward(vis, ir, torch::ones({1, 1, 64, 64}));
  ASSERT_TRUE(a.pred_mask.all().item<bool>());
  // Random weights make the effect small, but far above float rounding
  // (~6e-8 near 0.5); the same mask twice is bit-identical.
  EXPECT_TRUE(torch::equal(a.fused, net->forward(vis, ir, BoxMask(1, 64, 64, 0, 24, 0, 24)).fused));
  EXPECT_GT((a.fused - b.fused).abs().max().item<float>(), 1e-6);
  EXPECT_GT((empty.fused - full.fused).abs().max().item<float>(), 1e-6);
  // The prompt-free part does not move.
  EXPECT_TRUE(torch::equal(a.i_ref, b.i_ref));
  // And the SAM logits themselves follow the prompt, whatever the weights.
  auto net2 = MakeTiny(3);
  auto c = net2->forward(vis, ir, BoxMask(1, 64, 64, 0, 24, 0, 24));
  auto d = net2->forward(vis, ir, BoxMask(1, 64, 64, 36, 64, 30, 64));
  EXPECT_GT((c.logit_mask_vis - d.logit_mask_vis).abs().max().item<float>(), 1e-5);
}

TEST(ShapesTest, SamStandalonePathForBoxesAndPoints) {
  torch::manual_seed(5);
  ModelConfig c = TinyConfig();
  sam::Sam s(c.sam);
  s->eval();
  torch::InferenceMode guard;
  auto rgb = torch::rand({1, 3, 50, 70}) * 255;
  sam::GeometricPrompt box;
  box.boxes = torch::tensor({{10.f, 5.f, 40.f, 30.f}});
  auto logits = s->SegmentWithPrompts(rgb, box);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 1, 50, 70}));
  sam::GeometricPrompt pts;
  pts.points = torch::tensor({{{20.f, 20.f}, {60.f, 40.f}}});
  pts.point_labels = torch::tensor({{1, 0}});
  auto logits2 = s->SegmentWithPrompts(rgb, pts);
  EXPECT_EQ(logits2.sizes(), (std::vector<int64_t>{1, 1, 50, 70}));
  EXPECT_FALSE(torch::equal(logits, logits2));
  EXPECT_EQ(s->ResizedShape(50, 70), (std::pair<int64_t, int64_t>{366, 512}));
  // Two boxes on one image: one encode, two decodes, each equal to its own run.
  sam::GeometricPrompt two;
  two.boxes = torch::tensor({{10.f, 5.f, 40.f, 30.f}, {30.f, 20.f, 65.f, 45.f}});
  auto both = s->SegmentWithPrompts(rgb, two);
  ASSERT_EQ(both.sizes(), (std::vector<int64_t>{2, 1, 50, 70}));
  EXPECT_TRUE(torch::allclose(both.slice(0, 0, 1), logits, 1e-4, 1e-5));
  sam::GeometricPrompt second;
  second.boxes = two.boxes.slice(0, 1, 2);
  EXPECT_TRUE(
      torch::allclose(both.slice(0, 1, 2), s->SegmentWithPrompts(rgb, second), 1e-4, 1e-5));  // 50 * 512/70 = 365.7
}

}  // namespace
}  // namespace ctrlfuse::model
