// Reference Prompt Encoder (RPE): turns a mask prompt on one branch's
// features into prompt tokens for SAM's mask decoder. One per branch; the
// release stores its parts at the top level as `merge_{v,i}` and
// `transformer_decoder_{v,i}`.
#pragma once

#include <torch/torch.h>

#include "model/attention.h"
#include "model/blocks.h"

namespace ctrlfuse::model {

// Post-norm attention + residual + LayerNorm (`<attn_name>`, `norm`).
class AttentionLayerImpl : public torch::nn::Module {
 public:
  AttentionLayerImpl(const std::string& attn_name, int dim, int heads);
  // Keys are memory + key_pos (when defined); values are memory.
  torch::Tensor forward(const torch::Tensor& tgt, const torch::Tensor& memory, const torch::Tensor& key_pos = {});

 private:
  MultiheadAttention attn_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(AttentionLayer);

// The 4-layer query decoder: learned queries attend to the support
// features, to themselves, to the query features, to themselves.
class QueryDecoderImpl : public torch::nn::Module {
 public:
  QueryDecoderImpl(int dim, int heads, int num_queries);
  // support, query: [B,C,g,g] -> prompt tokens [B,num_queries,C].
  torch::Tensor forward(const torch::Tensor& support, const torch::Tensor& query);

 private:
  AttentionLayer self_, self0_, cross_, cross0_;
  torch::nn::Embedding queries_{nullptr};
  int dim_;
};
TORCH_MODULE(QueryDecoder);

// The release's nearest-neighbour resize of [B,C,H,W] to SAM's embedding
// side `grid` (64 in the release), which the RPE works at.
torch::Tensor ToPromptGrid(const torch::Tensor& x, int grid);

// Masked average pooling, the cosine pseudo-mask and the merge convolution
// around a QueryDecoder. ref_grid, branch_grid: F_ref and F_b already on the
// grid (ToPromptGrid: they depend on the image pair alone); mask [B,1,H,W].
torch::Tensor EncodeReferencePrompt(Conv1x1ReLU& merge, QueryDecoder& decoder, const torch::Tensor& ref_grid,
                                    const torch::Tensor& branch_grid, const torch::Tensor& mask);

}  // namespace ctrlfuse::model
