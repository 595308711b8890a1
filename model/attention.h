// Attention primitives shared by the Reference Prompt Encoder and the PSFM.
#pragma once

#include <torch/torch.h>

namespace ctrlfuse::model {

// Multi-head attention with the parameter names of torch.nn.MultiheadAttention
// (`in_proj_weight`, `in_proj_bias`, `out_proj.*`), batch-first: q [B,Lq,C],
// k and v [B,Lk,C] -> [B,Lq,C]. Written out rather than using the C++
// frontend's module so the names and the persistent set match exactly.
class MultiheadAttentionImpl : public torch::nn::Module {
 public:
  MultiheadAttentionImpl(int dim, int heads);
  // `allowed`, when defined, is a bool mask broadcastable to
  // [B,heads,Lq,Lk], true where a query may attend (the inverse of
  // torch.nn.MultiheadAttention's attn_mask / key_padding_mask).
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& allowed = {});

  // The same in two steps, for keys and values that do not depend on the
  // query (the PSFM's come from the image pair alone, so an encoding keeps
  // them projected): ProjectKeysValues(k, v) -> [B,heads,Lk,C/heads] each,
  // contiguous; Attend(q, projected) == forward(q, k, v).
  std::pair<torch::Tensor, torch::Tensor> ProjectKeysValues(const torch::Tensor& k, const torch::Tensor& v);
  torch::Tensor Attend(const torch::Tensor& q, const std::pair<torch::Tensor, torch::Tensor>& kv,
                       const torch::Tensor& allowed = {});

  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int dim_, heads_;
};
TORCH_MODULE(MultiheadAttention);

// DETR's 2-D sine positional encoding (normalised, scale 2*pi, temperature
// 10000), `channels / 2` features per axis, concatenated [y, x]:
// returns [1, channels, h, w].
torch::Tensor SinePositionEncoding(int channels, int h, int w, const torch::TensorOptions& opts);

}  // namespace ctrlfuse::model
