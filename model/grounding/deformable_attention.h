// Multi-scale deformable attention (Deformable DETR, as GroundingDINO's
// ms_deform_attn.py builds it: `sampling_offsets`, `attention_weights`,
// `value_proj`, `output_proj`), written as plain tensor ops with
// grid_sample (bilinear, zero padding, align_corners=false): the official
// CUDA kernel computes the same and is only an optimisation. Half-precision
// inputs are sampled in float32 and cast back, as the official kernel does.
//
// Thread-safety: as any torch::nn::Module.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace ctrlfuse::model::grounding {

// The flattened multi-scale layout: level l covers rows
// [start[l], start[l] + h[l] * w[l]) of a [B, S, C] tensor.
struct LevelShapes {
  std::vector<int64_t> h, w, start;
  int64_t total() const { return start.empty() ? 0 : start.back() + h.back() * w.back(); }
  int levels() const { return static_cast<int>(h.size()); }
};

// value [B,S,heads,d]; locations [B,Q,heads,L,P,2] in [0,1] (x, y);
// weights [B,Q,heads,L,P] -> [B,Q,heads*d].
torch::Tensor MultiScaleDeformableSample(const torch::Tensor& value, const LevelShapes& shapes,
                                         const torch::Tensor& locations, const torch::Tensor& weights);

class MultiScaleDeformableAttentionImpl : public torch::nn::Module {
 public:
  MultiScaleDeformableAttentionImpl(int dim, int heads, int levels, int points);
  // query [B,Q,C] (position already added); value [B,S,C];
  // reference [B,Q,L,2] (points) or [B,Q,L,4] (boxes cx,cy,w,h);
  // padding [B,S] bool (true = padded, its value is zeroed) or undefined.
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& value, const torch::Tensor& reference,
                        const LevelShapes& shapes, const torch::Tensor& padding);

 private:
  int heads_, levels_, points_;
  torch::nn::Linear sampling_offsets_{nullptr}, attention_weights_{nullptr}, value_proj_{nullptr},
      output_proj_{nullptr};
};
TORCH_MODULE(MultiScaleDeformableAttention);

}  // namespace ctrlfuse::model::grounding
