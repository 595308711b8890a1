// The release's training objective (spec section 4), all terms weight 1:
//   fusion(I_ref) + fusion(fused) + perceptual + pixel + segmentation.
#pragma once

#include <torch/torch.h>

#include "model/ctrlfuse_net.h"
#include "model/vgg16.h"

namespace ctrlfuse::model {

// |Sobel-x| + |Sobel-y| per channel, unnormalised kernels, zero padding 1.
torch::Tensor SobelGradient(const torch::Tensor& x);

// L1(out, max(vis, ir)) + 10 * L1(grad(out), max(grad(vis), grad(ir))), the
// images averaged to one channel first.
torch::Tensor FusionLoss(const torch::Tensor& out, const torch::Tensor& vis, const torch::Tensor& ir);

// mean(mask * |fused - max(vis, ir)|) + mean((1 - mask) * |fused - mean(vis, ir)|):
// the prompted targets take the brighter source, the rest the average.
torch::Tensor PixelLoss(const torch::Tensor& fused, const torch::Tensor& vis, const torch::Tensor& ir,
                        const torch::Tensor& mask);

// BCE-with-logits (mean) + Dice, Dice = 1 - (2 sum(p t) + 1) / (sum p + sum t + 1)
// per sample with p = sigmoid(logits), averaged over the batch (the
// release's "divided by B").
torch::Tensor SegmentationLoss(const torch::Tensor& logits, const torch::Tensor& mask);

// Sum of MSEs of VGG16 features (relu1_2, relu2_2, relu3_3, relu4_3), no
// ImageNet normalisation; one-channel images are replicated to three.
torch::Tensor PerceptualLoss(Vgg16Features& vgg, const torch::Tensor& x, const torch::Tensor& y);

struct LossTerms {
  torch::Tensor fusion_ref, fusion_fused, pixel, segmentation, perceptual, total;
};

// All terms for one forward pass. `vgg` may be null (no VGG16 weights: the
// perceptual term is left out and reported as 0).
LossTerms ComputeLosses(const FusionOutput& out, const torch::Tensor& vis, const torch::Tensor& ir,
                        const torch::Tensor& mask, Vgg16Features* vgg);

}  // namespace ctrlfuse::model
