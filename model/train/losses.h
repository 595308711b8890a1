// The release's training objective (spec section 4), all terms weight 1:
//   fusion(I_ref) + fusion(fused) + perceptual + pixel + segmentation.
#pragma once

#include <torch/torch.h>

#include "model/ctrlfuse_net.h"
#include "model/train/vgg16.h"

namespace ctrlfuse::model {

// |Sobel-x| + |Sobel-y| per channel, unnormalised kernels, zero padding 1.
torch::Tensor SobelGradient(const torch::Tensor& x);

// L1(out, max(vis, ir)) + 10 * L1(grad(out), max(grad(vis), grad(ir))), the
// images averaged to one channel first; `gradient_weight` replaces the 10.
torch::Tensor FusionLoss(const torch::Tensor& out, const torch::Tensor& vis, const torch::Tensor& ir,
                         double gradient_weight = 10);

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

// Weight of each term in the total. The release weighs all five 1; other
// weights are a training choice (a warm-up phase that trains only some
// terms, or a stronger pixel term for more prompt contrast). A term with
// weight 0 is still computed and reported, it just adds nothing.
struct LossWeights {
  double fusion_ref = 1, fusion_fused = 1, pixel = 1, segmentation = 1, perceptual = 1;
  double fusion_gradient = 10;  // the gradient part inside both fusion terms
};

// All terms for one forward pass. `vgg` may be null (no VGG16 weights: the
// perceptual term is left out and reported as 0).
LossTerms ComputeLosses(const FusionOutput& out, const torch::Tensor& vis, const torch::Tensor& ir,
                        const torch::Tensor& mask, Vgg16Features* vgg, const LossWeights& weights = {});

}  // namespace ctrlfuse::model
