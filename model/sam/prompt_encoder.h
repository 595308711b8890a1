// SAM's prompt encoder, with CtrlFuse's extra path: a set of prompt tokens
// (from the Reference Prompt Encoder) that become the sparse embedding.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/sam/common.h"

namespace ctrlfuse::model::sam {

// Random Fourier positional encoding (`pe_layer`); its Gaussian matrix is a
// persisted buffer, so it must come from the checkpoint.
class PositionEmbeddingRandomImpl : public torch::nn::Module {
 public:
  explicit PositionEmbeddingRandomImpl(int num_feats);
  torch::Tensor Grid(int h, int w);  // [2*num_feats,h,w]
  // Points in pixels of an image of size (h, w): [..,2] (x, y) -> [..,2*num_feats].
  torch::Tensor WithCoords(const torch::Tensor& points, int h, int w);

 private:
  torch::Tensor Encode(torch::Tensor coords);  // coords in [0,1]
  torch::Tensor gaussian_;
};
TORCH_MODULE(PositionEmbeddingRandom);

struct SparsePrompts {
  torch::Tensor tokens;        // [B,N,C] prompt tokens (CtrlFuse), optional
  torch::Tensor points;        // [B,P,2] in SAM input pixels (x, y), optional
  torch::Tensor point_labels;  // [B,P] 1 foreground, 0 background, -1 padding
  torch::Tensor boxes;         // [B,4] x0 y0 x1 y1 in SAM input pixels, optional
  torch::Tensor masks;         // [B,1,4g,4g] low-res mask logits, optional
};

class PromptEncoderImpl : public torch::nn::Module {
 public:
  explicit PromptEncoderImpl(const SamConfig& config);
  // Returns {sparse [B,N,C], dense [B,C,g,g]}.
  std::pair<torch::Tensor, torch::Tensor> forward(const SparsePrompts& prompts, int64_t batch);
  torch::Tensor DensePositionalEncoding();  // [1,C,g,g]

 private:
  PositionEmbeddingRandom pe_{nullptr};
  std::vector<torch::nn::Embedding> point_embeddings_;
  torch::nn::Embedding not_a_point_{nullptr}, no_mask_{nullptr};
  torch::nn::Sequential mask_downscaling_{nullptr};
  int dim_, grid_, img_size_;
};
TORCH_MODULE(PromptEncoder);

}  // namespace ctrlfuse::model::sam
