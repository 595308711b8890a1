// Prompt-Semantic Fusion Module (`token2image1` / `token2image2`): injects a
// branch's prompt tokens back into its full-resolution features.
//
// The release computes, for tokens P [B,N,C] and features F [B,C,H,W]:
//   kv = GN(conv2x2/2(F)); t = MHA(P, kv, kv)            [B,N,C]
//   m = GN(conv3x3(bilinear x2(nearest(t as [B,C,r,c] -> H/2,W/2))))
//   out = conv1x1(cat[F, m])
// Two facts make it cheap without changing what it computes:
// - kv, the attention's key/value projections and conv1x1's F half depend
//   on F alone, so Prepare() computes them once per image pair (the encoding)
//   and a re-prompt reuses them;
// - m is an r x c map stretched by fixed linear resizes, so the 3x3 conv,
//   GroupNorm's statistics and conv1x1's m half are all linear algebra on
//   the r x c tokens and two small per-axis resize matrices (9 taps x r x c
//   instead of 9 x C per pixel). Fuse() forms the output once, at the end.
// ForwardAsReleased() is the literal computation, kept for the tests and the
// profile's before/after rows.
//
// Thread-safety: as any torch::nn::Module (const use from several threads is
// safe; the weights are not modified).
#pragma once

#include <torch/torch.h>

#include "model/attention.h"

namespace ctrlfuse::model {

// What the PSFM needs of one branch's features [B,C,H,W], prompt-free.
struct PsfmFeatures {
  torch::Tensor projected;     // [B,C,H,W] conv1x1's feature half, plus its bias
  torch::Tensor keys, values;  // [B,heads,HW/4,C/heads] the attention's, projected

  PsfmFeatures Slice(int64_t begin, int64_t end) const;
  PsfmFeatures Clone() const;
  static PsfmFeatures Concat(const std::vector<PsfmFeatures>& parts);
  int64_t bytes() const;
};

class PromptSemanticFusionImpl : public torch::nn::Module {
 public:
  PromptSemanticFusionImpl(int dim, int heads, int groups, int token_rows, int token_cols);
  // features [B,C,H,W] (H, W even).
  PsfmFeatures Prepare(const torch::Tensor& features);
  // tokens [B,N,C] -> [B,C,H,W].
  torch::Tensor Fuse(const torch::Tensor& tokens, const PsfmFeatures& features);
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& features);
  torch::Tensor ForwardAsReleased(const torch::Tensor& tokens, const torch::Tensor& features);

 private:
  torch::nn::Conv2d down_conv_{nullptr}, up_conv_{nullptr}, out_proj_{nullptr};
  torch::nn::GroupNorm down_norm_{nullptr}, up_norm_{nullptr};
  MultiheadAttention attn_{nullptr};
  int dim_, groups_, token_rows_, token_cols_;
};
TORCH_MODULE(PromptSemanticFusion);

}  // namespace ctrlfuse::model
