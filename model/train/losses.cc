#include "model/train/losses.h"

namespace ctrlfuse::model {
namespace F = torch::nn::functional;

namespace {
torch::Tensor Grey(const torch::Tensor& x) { return x.size(1) == 1 ? x : x.mean(1, true); }
}  // namespace

torch::Tensor SobelGradient(const torch::Tensor& x) {
  const int64_t c = x.size(1);
  auto kx = torch::tensor({-1.f, 0.f, 1.f, -2.f, 0.f, 2.f, -1.f, 0.f, 1.f}, x.options()).view({1, 1, 3, 3});
  auto wx = kx.expand({c, 1, 3, 3}), wy = kx.transpose(2, 3).expand({c, 1, 3, 3});
  auto opts = F::Conv2dFuncOptions().padding(1).groups(c);
  return F::conv2d(x, wx, opts).abs() + F::conv2d(x, wy, opts).abs();
}

torch::Tensor FusionLoss(const torch::Tensor& out, const torch::Tensor& vis, const torch::Tensor& ir,
                         double gradient_weight) {
  auto o = Grey(out), v = Grey(vis), i = Grey(ir);
  auto intensity = F::l1_loss(o, torch::max(v, i));
  auto gradient = F::l1_loss(SobelGradient(o), torch::max(SobelGradient(v), SobelGradient(i)));
  return intensity + gradient_weight * gradient;
}

torch::Tensor PixelLoss(const torch::Tensor& fused, const torch::Tensor& vis, const torch::Tensor& ir,
                        const torch::Tensor& mask) {
  auto f = Grey(fused), v = Grey(vis), i = Grey(ir);
  return (mask * (f - torch::max(v, i)).abs()).mean() + ((1 - mask) * (f - (v + i) / 2).abs()).mean();
}

torch::Tensor SegmentationLoss(const torch::Tensor& logits, const torch::Tensor& mask) {
  auto bce = F::binary_cross_entropy_with_logits(logits, mask);
  auto p = torch::sigmoid(logits).flatten(1), t = mask.flatten(1);
  auto dice = 1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1);
  return bce + dice.mean();
}

torch::Tensor PerceptualLoss(Vgg16Features& vgg, const torch::Tensor& x, const torch::Tensor& y) {
  auto fx = vgg->forward(x.size(1) == 1 ? x.expand({-1, 3, -1, -1}) : x);
  auto fy = vgg->forward(y.size(1) == 1 ? y.expand({-1, 3, -1, -1}) : y);
  auto loss = torch::zeros({}, x.options());
  for (size_t k = 0; k < fx.size(); ++k) loss = loss + F::mse_loss(fx[k], fy[k]);
  return loss;
}

LossTerms ComputeLosses(const FusionOutput& out, const torch::Tensor& vis, const torch::Tensor& ir,
                        const torch::Tensor& mask, Vgg16Features* vgg, const LossWeights& w) {
  LossTerms t;
  t.fusion_ref = FusionLoss(out.i_ref, vis, ir, w.fusion_gradient);
  t.fusion_fused = FusionLoss(out.fused, vis, ir, w.fusion_gradient);
  t.pixel = PixelLoss(out.fused, vis, ir, mask);
  t.segmentation = 0.5 * SegmentationLoss(out.logit_mask_vis, mask) + 0.5 * SegmentationLoss(out.logit_mask_ir, mask);
  t.perceptual = vgg ? 0.5 * PerceptualLoss(*vgg, vis, out.fused) + 0.5 * PerceptualLoss(*vgg, ir, out.fused)
                     : torch::zeros({}, out.fused.options());
  t.total = w.fusion_ref * t.fusion_ref + w.fusion_fused * t.fusion_fused + w.pixel * t.pixel +
            w.segmentation * t.segmentation + w.perceptual * t.perceptual;
  return t;
}

}  // namespace ctrlfuse::model
