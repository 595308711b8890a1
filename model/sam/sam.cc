#include "model/sam/sam.h"

#include <algorithm>

#include "model/sam/pil_resize.h"

namespace ctrlfuse::model::sam {
namespace F = torch::nn::functional;

SamImpl::SamImpl(const SamConfig& config) : config_(config) {
  image_encoder = register_module("image_encoder", ImageEncoder(config));
  prompt_encoder = register_module("prompt_encoder", PromptEncoder(config));
  mask_decoder = register_module("mask_decoder", MaskDecoder(config));
  pixel_mean_ = torch::tensor({123.675f, 116.28f, 103.53f}).view({1, 3, 1, 1});
  pixel_std_ = torch::tensor({58.395f, 57.12f, 57.375f}).view({1, 3, 1, 1});
}

std::pair<int64_t, int64_t> SamImpl::ResizedShape(int64_t h, int64_t w) const {
  const double scale = double(config_.img_size) / std::max(h, w);
  // SAM's own rule, int(x + 0.5), kept exactly (sizes are positive).
  return {int64_t(h * scale + 0.5), int64_t(w * scale + 0.5)};  // NOLINT(bugprone-incorrect-roundings)
}

torch::Tensor SamImpl::SegmentWithPrompts(const torch::Tensor& rgb, const GeometricPrompt& prompt) {
  const int64_t h = rgb.size(2), w = rgb.size(3), s = config_.img_size;
  auto [nh, nw] = ResizedShape(h, w);
  // The official predictor resizes the 8-bit image with Pillow (through
  // torchvision), so this does too, on the CPU: a float interpolation moves
  // the logits by more than the parity tolerance (pil_resize.h). Only the
  // resized image goes to the model's device (callers keep rgb on the host).
  const auto opts = image_encoder->parameters().front().options();
  std::vector<torch::Tensor> resized;
  for (int64_t b = 0; b < rgb.size(0); ++b) {
    auto u8 = rgb[b].permute({1, 2, 0}).round().clamp(0, 255).to(torch::kCPU, torch::kUInt8);
    resized.push_back(PilBilinearResize(u8, nh, nw).permute({2, 0, 1}));
  }
  auto x = torch::stack(resized).to(opts);
  x = (x - pixel_mean_.to(x.options())) / pixel_std_.to(x.options());
  x = F::pad(x, F::PadFuncOptions({0, s - nw, 0, s - nh}));
  auto embedding = image_encoder(x);

  // Coordinates follow the longest-side resize.
  auto scale = torch::tensor({double(nw) / w, double(nh) / h}, opts);
  SparsePrompts sp;
  if (prompt.boxes.defined()) sp.boxes = (prompt.boxes.view({-1, 2, 2}) * scale).view({-1, 4});
  if (prompt.points.defined()) {
    sp.points = prompt.points * scale;
    sp.point_labels = prompt.point_labels;
  }
  // Several prompts on one image: one embedding, decoded once per prompt.
  const int64_t n = sp.boxes.defined() ? sp.boxes.size(0) : sp.points.size(0);
  if (embedding.size(0) == 1 && n > 1) embedding = embedding.expand({n, -1, -1, -1});
  auto [sparse, dense] = prompt_encoder->forward(sp, n);
  auto pred = mask_decoder(embedding, prompt_encoder->DensePositionalEncoding(), sparse, dense,
                           /*multimask_output=*/false);
  auto up = F::interpolate(
      pred.low_res_logits,
      F::InterpolateFuncOptions().size(std::vector<int64_t>{s, s}).mode(torch::kBilinear).align_corners(false));
  using torch::indexing::Slice;
  up = up.index({Slice(), Slice(), Slice(0, nh), Slice(0, nw)});
  return F::interpolate(
      up, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
}

}  // namespace ctrlfuse::model::sam
