// The resize SAM's official predictor applies to an image before encoding it:
// torchvision's `resize` on a PIL image, i.e. Pillow's bilinear resampling
// of 8-bit samples (antialiased when shrinking: the filter's support grows
// with the scale), in Pillow's fixed-point arithmetic: one horizontal pass
// rounded to 8 bits, then one vertical pass. A float bilinear
// interpolation differs from it by up to a grey level, which moves SAM's
// logits by more than the parity tolerance; this reproduces it exactly
// (tests/parity compares it with Pillow itself).
#pragma once

#include <torch/torch.h>

namespace ctrlfuse::model::sam {

// image: uint8 [H,W,C] on the CPU (any C) -> uint8 [out_h,out_w,C].
// Thread-safe (no state).
torch::Tensor PilBilinearResize(const torch::Tensor& image, int64_t out_h, int64_t out_w);

}  // namespace ctrlfuse::model::sam
