// The CtrlFuse network, module names as in the official release so its
// checkpoints load by name. Inference is split at the prompt: Encode() is
// everything that depends only on the image pair, Decode() the rest.
#pragma once

#include <torch/torch.h>

#include "model/blocks.h"
#include "model/config.h"
#include "model/psfm.h"
#include "model/reference_prompt_encoder.h"
#include "model/sam/sam.h"

namespace ctrlfuse::model {

// Prompt-independent results for a batch (all [B,...], same H, W): all a
// Decode needs, so a re-prompt recomputes nothing that depends on the pair
// alone. The branch features F_vis, F_ir themselves are not kept: the
// decode reads them only on the prompt grid and through the PSFMs' prepared
// parts.
struct Encoding {
  torch::Tensor f_ref;                        // [B,C,H,W] reference features
  torch::Tensor i_ref;                        // [B,1,H,W] reference image
  torch::Tensor image_embedding;              // [B,C,g,g] SAM embedding of I_ref
  torch::Tensor grid_ref, grid_vis, grid_ir;  // [B,C,g,g] F_ref, F_vis, F_ir on the prompt grid
  PsfmFeatures psfm_vis, psfm_ir;             // the PSFMs' prompt-free parts

  int64_t bytes() const;
  Encoding Clone() const;
  // Rows [begin, end) of every tensor (a view), and the batch of several.
  Encoding Slice(int64_t begin, int64_t end) const;
  static Encoding Concat(const std::vector<Encoding>& parts);
};

// All outputs of the release's forward, plus the fused image.
struct FusionOutput {
  torch::Tensor i_ref;                                   // [B,1,H,W] in (0,1)
  torch::Tensor logit_mask_vis, logit_mask_ir;           // [B,1,H,W] logits
  torch::Tensor pred_mask_vis, pred_mask_ir, pred_mask;  // [B,1,H,W] bool
  torch::Tensor fused;                                   // [B,1,H,W] in (0,1)
};

// The release's mask: sigmoid(logit) > 0.5, not logit > 0. In fp32 they
// differ for tiny positive logits (below ~1e-7 the sigmoid rounds to exactly
// 0.5), and the released checkpoints were trained and evaluated with this.
torch::Tensor ReleaseMaskThreshold(const torch::Tensor& logits);

class CtrlFuseNetImpl : public torch::nn::Module {
 public:
  explicit CtrlFuseNetImpl(const ModelConfig& config);

  // vis, ir: [B,3,H,W] in [0,1] (grey replicated to 3 channels); H, W even.
  Encoding Encode(const torch::Tensor& vis, const torch::Tensor& ir);
  // mask: [B,1,H,W] in [0,1] (not binarised, as released).
  FusionOutput Decode(const Encoding& encoding, const torch::Tensor& mask);
  FusionOutput forward(const torch::Tensor& vis, const torch::Tensor& ir, const torch::Tensor& mask);

  const ModelConfig& config() const { return config_; }
  // The release freezes SAM and embeds I_ref without gradients. With no SAM
  // weights to start from (the tiny demo model) SAM trains too: then the
  // image encoder runs with gradients (its input I_ref stays detached).
  void set_sam_trainable(bool trainable) { sam_trainable_ = trainable; }
  // SAM's image embedding of a one-channel image [B,1,H,W] in [0,1], prepared
  // as the release prepares I_ref (replicated, stretched, no normalisation).
  torch::Tensor SamEmbedding(const torch::Tensor& i_ref);
  bool sam_trainable() const { return sam_trainable_; }
  sam::Sam sam_model{nullptr};

 private:
  torch::Tensor BranchLogits(const Encoding& e, const torch::Tensor& tokens);

  ModelConfig config_;
  bool sam_trainable_ = false;
  Conv1x1ReLU merge_v_{nullptr}, merge_i_{nullptr}, merge_2c_{nullptr};
  QueryDecoder decoder_v_{nullptr}, decoder_i_{nullptr};
  PromptSemanticFusion psfm_vis_{nullptr}, psfm_ir_{nullptr};
  FeatureExtractor extractor_vis_{nullptr}, extractor_ir_{nullptr};
  ImageDecoder image_decoder_{nullptr};
  UnusedDecoderIV image_decoder_iv_{nullptr};
};
TORCH_MODULE(CtrlFuseNet);

}  // namespace ctrlfuse::model
