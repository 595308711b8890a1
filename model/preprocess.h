// Input and output conversions around the network, on tensors: 8/16-bit
// infrared normalisation, grey replication, even-size padding and the
// YCrCb colour restoration.
#pragma once

#include <torch/torch.h>

#include <string>

#include "model/ir_normalization.h"

namespace ctrlfuse::model {

// [H,W] uint8 or int32 (holding uint16) -> [H,W] float in [0,1].
torch::Tensor NormalizeInfrared(const torch::Tensor& plane, int bit_depth, const IrNormalization& norm);

// Pads [B,C,H,W] on the bottom/right by replication so H and W are even (the
// PSFM halves and doubles the resolution). Returns the padded tensor.
torch::Tensor PadToEven(const torch::Tensor& x);
torch::Tensor CropTo(const torch::Tensor& x, int64_t h, int64_t w);

// BT.601 luma of [B,3,H,W] BGR in [0,1] -> [B,1,H,W].
torch::Tensor Luma(const torch::Tensor& bgr);

// The release's grey: a colour image [B,3,H,W] of integer counts (BGR, 8 or
// 16 bits, as float) turned into integer grey counts [B,1,H,W] the way
// OpenCV's COLOR_BGR2GRAY does it (BT.601 in 15-bit fixed point, rounded):
// (3735 B + 19235 G + 9798 R + 16384) >> 15, for 8 and 16 bits alike. The release loads its images as
// 8-bit grey before dividing by 255, so the network sees these levels, not
// an unrounded float luma.
torch::Tensor RoundedGreyCounts(const torch::Tensor& bgr_counts);

// Puts the visible image's chroma back around a fused luma, as the field
// does: BGR -> YCrCb, replace Y, back to BGR (OpenCV's constants). Inputs in
// [0,1]; result [B,3,H,W] BGR clamped to [0,1].
torch::Tensor ColorizeWithVisible(const torch::Tensor& fused_y, const torch::Tensor& vis_bgr);

}  // namespace ctrlfuse::model
