// Segment Anything: the three parts under their official names
// (`image_encoder`, `prompt_encoder`, `mask_decoder`), and the standard
// pre- and post-processing for box and point prompts.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/sam/image_encoder.h"
#include "model/sam/mask_decoder.h"
#include "model/sam/prompt_encoder.h"

namespace ctrlfuse::model::sam {

// Box / point prompts in the original image's pixel coordinates.
struct GeometricPrompt {
  torch::Tensor boxes;         // [B,4] x0 y0 x1 y1, optional
  torch::Tensor points;        // [B,P,2] (x, y), optional
  torch::Tensor point_labels;  // [B,P] 1 foreground, 0 background
};

class SamImpl : public torch::nn::Module {
 public:
  explicit SamImpl(const SamConfig& config);

  // The standard SAM path (SamPredictor's): rgb [B,3,H,W] with 8-bit values
  // on the 0-255 scale (rounded to 8 bits for the resize, which runs on the
  // CPU, so pass it from the host; prompts on the model's device) -> logits
  // [B,1,H,W] at the original size (threshold at 0 for the mask). With one
  // image and N prompts (boxes [N,4], points [N,P,2]) the image is encoded
  // once and the result is [N,1,H,W].
  torch::Tensor SegmentWithPrompts(const torch::Tensor& rgb, const GeometricPrompt& prompt);

  // SAM input side and the (h, w) an image is resized to before padding.
  const SamConfig& config() const { return config_; }
  std::pair<int64_t, int64_t> ResizedShape(int64_t h, int64_t w) const;

  ImageEncoder image_encoder{nullptr};
  PromptEncoder prompt_encoder{nullptr};
  MaskDecoder mask_decoder{nullptr};

 private:
  SamConfig config_;
  // Not persistent in the official files (SAM registers them non-persistent).
  torch::Tensor pixel_mean_, pixel_std_;
};
TORCH_MODULE(Sam);

}  // namespace ctrlfuse::model::sam
