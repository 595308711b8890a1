// One training step of the release's objective, Adam with step decay, and
// checkpoints that resume exactly (model, optimizer moments and step in one
// ctrlfuse-serve checkpoint). Data comes in as tensors: sources live with
// the tools (they need OpenCV).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "model/ctrlfuse_net.h"
#include "model/losses.h"
#include "model/vgg16.h"

namespace ctrlfuse::model {

struct TrainOptions {
  double lr = 1e-4;            // the release's Adam learning rate
  double weight_decay = 1e-6;  // and weight decay
  double lr_decay = 0.5;       // step decay factor ...
  int64_t lr_decay_every = 0;  // ... every this many steps (0 = constant)
  bool train_sam = false;      // true when no SAM weights were loaded
  LossWeights weights;         // the release: all 1
};

struct TrainBatch {
  torch::Tensor vis, ir;  // [B,3,H,W] in [0,1] (grey replicated)
  torch::Tensor mask;     // [B,1,H,W] in [0,1]
};

// Loss terms of one step as plain numbers.
struct StepReport {
  int64_t step = 0;
  double lr = 0;
  double total = 0, fusion_ref = 0, fusion_fused = 0, pixel = 0, segmentation = 0, perceptual = 0;
};

class Trainer {
 public:
  // `vgg` may be null (no perceptual term).
  Trainer(CtrlFuseNet net, TrainOptions options, Vgg16Features vgg = nullptr);

  StepReport Step(const TrainBatch& batch);
  int64_t step() const { return step_; }
  double CurrentLr() const;

  void Save(const std::string& path) const;
  // Loads model, optimizer state and step from a file Save() wrote.
  void Resume(const std::string& path);

  CtrlFuseNet& net() { return net_; }

 private:
  CtrlFuseNet net_;
  TrainOptions options_;
  Vgg16Features vgg_;
  std::vector<std::pair<std::string, torch::Tensor>> trainable_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  int64_t step_ = 0;
};

// Pretrains SAM the standard way (box prompt -> mask, BCE + Dice) on the
// image SAM sees inside CtrlFuse. The release starts from the official,
// frozen SAM; a configuration without official weights (tiny) gets its SAM
// from this phase, then trains CtrlFuse with SAM frozen, like the release.
// Training SAM jointly from scratch was tried first: its mask decoder
// collapses to "no mask anywhere" (BCE drives every logit negative before
// the prompt is used), and the prompt never reaches the fused image.
class SamPretrainer {
 public:
  // prompt_encoder_only: train only the box/point embeddings of the prompt
  // encoder, for a SAM whose image encoder and mask decoder were trained
  // through the RPE's tokens (everything else is left exactly as it is).
  SamPretrainer(CtrlFuseNet net, double lr, double weight_decay, bool prompt_encoder_only = false);
  // image [B,1,H,W] in [0,1], boxes [B,4] (x0,y0,x1,y1 in pixels), mask [B,1,H,W].
  StepReport Step(const torch::Tensor& image, const torch::Tensor& boxes, const torch::Tensor& mask);
  // The same on the path the server's box and point prompts take (SAM's own
  // preprocessing of the visible image): rgb [B,3,H,W] in 0..255.
  StepReport StepOnVisible(const torch::Tensor& rgb, const torch::Tensor& boxes, const torch::Tensor& mask);

 private:
  StepReport Finish(const torch::Tensor& logits, const torch::Tensor& mask);

  CtrlFuseNet net_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  int64_t step_ = 0;
};

}  // namespace ctrlfuse::model
