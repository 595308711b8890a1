// One training step of the release's objective, Adam with step decay, and
// checkpoints that resume exactly (model, optimizer moments and step in one
// ctrlfuse-serve checkpoint). Data comes in as tensors: sources live with
// the tools (they need OpenCV).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "model/ctrlfuse_net.h"
#include "model/train/losses.h"
#include "model/train/vgg16.h"

namespace ctrlfuse::model {

struct TrainOptions {
  double lr = 1e-4;            // the release's Adam learning rate
  double weight_decay = 1e-6;  // and weight decay
  double lr_decay = 0.5;       // step decay factor ...
  int64_t lr_decay_every = 0;  // ... every this many steps (0 = constant)
  bool train_sam = false;      // true when no SAM weights were loaded
  LossWeights weights;         // the release: all 1
  // state_dict name prefixes kept fixed (e.g. "feature_extractor1."), so a
  // phase can train one part of the network against a fixed rest.
  std::vector<std::string> frozen_prefixes;
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
// image SAM sees inside CtrlFuse, for a configuration without official SAM
// weights (the release starts from the official, frozen SAM). The bundled
// tiny model did not use it: a SAM pretrained on box tokens and then frozen
// did not learn to read the RPE's tokens, while SAM trained jointly from
// scratch (with the fusion gradient weight at 1) left its empty-mask
// plateau within a few hundred steps (docs/training.md).
class SamPretrainer {
 public:
  SamPretrainer(CtrlFuseNet net, double lr, double weight_decay);
  // image [B,1,H,W] in [0,1], boxes [B,4] (x0,y0,x1,y1 in pixels), mask [B,1,H,W].
  StepReport Step(const torch::Tensor& image, const torch::Tensor& boxes, const torch::Tensor& mask);

 private:
  CtrlFuseNet net_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  int64_t step_ = 0;
};

}  // namespace ctrlfuse::model
