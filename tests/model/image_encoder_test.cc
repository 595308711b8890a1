// SAM's ViT image encoder: the layout its blocks run on. The release sums
// the patch embedding's permuted output with the positions, which leaves the
// whole trunk in a transposed layout (each LayerNorm then copies it first,
// each residual add runs strided); ours makes it contiguous once
// (docs/performance.md, change 9). These tests hold that layout and that it
// changes no value.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/config.h"
#include "model/sam/image_encoder.h"

namespace ctrlfuse::model::sam {
namespace {

// Two blocks, the first windowed with padding (grid 32, window 7 -> 35), the
// second global; small enough to run in a moment.
SamConfig SmallEncoder() {
  SamConfig c;
  c.img_size = 512;
  c.patch = 16;
  c.embed_dim = 64;
  c.depth = 2;
  c.heads = 2;
  c.global_attn_indexes = {1};
  c.window = 7;
  c.out_chans = 32;
  return c;
}

ImageEncoder MakeEncoder() {
  torch::manual_seed(3);
  ImageEncoder enc(SmallEncoder());
  for (auto& p : enc->parameters()) {
    torch::NoGradGuard no_grad;
    p.normal_(0, 0.2);  // rel-pos tables and positions are zeros by default
  }
  enc->eval();
  return enc;
}

std::vector<std::shared_ptr<torch::nn::Module>> Blocks(ImageEncoder& enc) {
  return enc->named_children()["blocks"]->children();
}

TEST(ImageEncoderTest, TheTrunkIsContiguousThroughEveryBlock) {
  auto enc = MakeEncoder();
  torch::InferenceMode guard;
  auto x = enc->EmbedPatches(torch::rand({2, 3, 512, 512}));
  EXPECT_EQ(x.sizes(), torch::IntArrayRef({2, 32, 32, 64}));
  EXPECT_TRUE(x.is_contiguous());
  for (auto& block : Blocks(enc)) {
    x = block->as<ViTBlockImpl>()->forward(x);
    EXPECT_EQ(x.sizes(), torch::IntArrayRef({2, 32, 32, 64}));
    EXPECT_TRUE(x.is_contiguous());
  }
}

TEST(ImageEncoderTest, TheContiguousTrunkComputesWhatTheReleasesLayoutDoes) {
  auto enc = MakeEncoder();
  torch::InferenceMode guard;
  auto in = torch::rand({2, 3, 512, 512});
  auto& patch = *enc->named_children()["patch_embed"]->named_children()["proj"]->as<torch::nn::Conv2dImpl>();
  // The release's step: the permuted output plus the positions, as it falls.
  auto y = patch.forward(in).permute({0, 2, 3, 1}) + enc->named_parameters()["pos_embed"];
  ASSERT_FALSE(y.is_contiguous());
  for (auto& block : Blocks(enc)) y = block->as<ViTBlockImpl>()->forward(y);
  auto& neck = *enc->named_children()["neck"]->as<torch::nn::SequentialImpl>();
  auto release_layout = neck.forward(y.permute({0, 3, 1, 2}));
  auto ours = enc->forward(in);
  ASSERT_EQ(ours.sizes(), torch::IntArrayRef({2, 32, 32, 32}));
  // Elementwise work and LayerNorm see the same values in either layout;
  // only the neck's convolutions may sum in another order.
  EXPECT_LE((ours - release_layout).abs().max().item<float>(), 1e-5f * release_layout.abs().max().item<float>());
}

}  // namespace
}  // namespace ctrlfuse::model::sam
