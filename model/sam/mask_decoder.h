// SAM's mask decoder: output tokens + prompt tokens through the two-way
// transformer, then hypernetwork MLPs over an upscaled embedding.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/sam/common.h"
#include "model/sam/transformer.h"

namespace ctrlfuse::model::sam {

struct MaskPrediction {
  torch::Tensor low_res_logits;  // [B,M,4g,4g]
  torch::Tensor iou;             // [B,M]
};

class MaskDecoderImpl : public torch::nn::Module {
 public:
  explicit MaskDecoderImpl(const SamConfig& config);
  // Image embedding i is paired with token set i (CtrlFuse's change: no
  // repeat of the embedding per prompt); image_pe broadcasts over B.
  MaskPrediction forward(const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
                         const torch::Tensor& sparse, const torch::Tensor& dense, bool multimask_output);

 private:
  TwoWayTransformer transformer_{nullptr};
  torch::nn::Embedding iou_token_{nullptr}, mask_tokens_{nullptr};
  torch::nn::Sequential upscaling_{nullptr};
  std::vector<MLP> hypernetworks_;
  MLP iou_head_{nullptr};
  int num_mask_tokens_;
};
TORCH_MODULE(MaskDecoder);

}  // namespace ctrlfuse::model::sam
