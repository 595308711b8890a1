// GroundingDINO (Liu et al., 2023) as the official release builds it, with
// its state_dict names: `bert` + `feat_map` (text), `backbone.0` (Swin),
// `input_proj.{0..3}`, `transformer.{level_embed, encoder, decoder,
// tgt_embed, enc_output, enc_output_norm, enc_out_bbox_embed}` and the
// shared box MLP `bbox_embed.0` (the release stores it under 12 names; the
// checkpoint loader folds them, grounding_checkpoint.h). Two-stage query
// selection as the release: the top `queries` encoder positions by their
// best token score, invalid/padded positions given zero memory and +inf
// proposals but their scores not masked.
//
// Text and image are separate steps so a caption's encoding can be cached
// (a video stream sends the same caption every frame).
//
// Thread-safety: as any torch::nn::Module; forward/EncodeText in eval mode
// under InferenceMode may run concurrently.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/grounding/bert.h"
#include "model/grounding/decoder.h"
#include "model/grounding/encoder.h"
#include "model/grounding/grounding_config.h"
#include "model/grounding/swin.h"
#include "model/grounding/tokenizer.h"
#include "model/sam/common.h"

namespace ctrlfuse::model::grounding {

// Tokenized captions as tensors, padded to the longest (as the official
// tokenizer call with padding="longest"; padding rows of the block mask
// attend to themselves only, their position ids are 0).
struct TextInputs {
  torch::Tensor input_ids;     // [B,n] int64
  torch::Tensor position_ids;  // [B,n] int64
  torch::Tensor block_mask;    // [B,n,n] bool
  torch::Tensor token_mask;    // [B,n] bool, true = real token
};
TextInputs BatchCaptions(const std::vector<const TokenizedCaption*>& captions, const torch::Device& device);

struct GroundingOutput {
  torch::Tensor logits;    // [B,Q,max_text_len], -inf at padding and beyond n
  torch::Tensor boxes;     // [B,Q,4] (cx, cy, w, h) in [0,1]
  torch::Tensor selected;  // [B,Q] int64: the encoder positions the queries came from
  torch::Tensor memory;    // [B,S,C]: the encoder's image tokens
  torch::Tensor text;      // [B,n,C]: the encoder's text tokens
};

class GroundingDinoImpl : public torch::nn::Module {
 public:
  explicit GroundingDinoImpl(const GroundingDinoConfig& config);

  // BERT (block mask, restarting positions) + feat_map.
  TextState EncodeText(const TextInputs& text);
  // images [B,3,H,W] normalised (GroundingImageTensor); padding [B,H,W]
  // bool (true = padded; undefined: none).
  GroundingOutput forward(const torch::Tensor& images, const torch::Tensor& padding, const TextState& text);

  const GroundingDinoConfig& config() const { return config_; }
  SwinTransformer& backbone() { return swin_; }

 private:
  GroundingDinoConfig config_;
  BertModel bert_{nullptr};
  torch::nn::Linear feat_map_{nullptr};
  SwinTransformer swin_{nullptr};
  std::vector<torch::nn::Conv2d> proj_conv_;
  std::vector<torch::nn::GroupNorm> proj_norm_;
  torch::Tensor level_embed_;
  GroundingEncoder encoder_{nullptr};
  GroundingDecoder decoder_{nullptr};
  torch::nn::Embedding tgt_embed_{nullptr};
  torch::nn::Linear enc_output_{nullptr};
  torch::nn::LayerNorm enc_output_norm_{nullptr};
  sam::MLP enc_out_bbox_embed_{nullptr}, bbox_embed_{nullptr};
};
TORCH_MODULE(GroundingDino);

// Text states of one caption each (batch 1, as EncodeText of one caption)
// stacked into one batch, padded to the longest as BatchCaptions pads: zero
// features, padding true, position 0, identity block rows.
TextState StackTextStates(const std::vector<TextState>& states);

// The release's contrastive logits: x @ text^T, padding tokens -inf, padded
// with -inf to max_text_len.
torch::Tensor ContrastiveLogits(const torch::Tensor& x, const TextState& text, int max_text_len);

}  // namespace ctrlfuse::model::grounding
