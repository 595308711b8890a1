// The official image preprocessing of GroundingDINO's predict path
// (util/inference.py's load_image): the PIL image resized so its shorter
// side is 800 and its longer at most 1333 (datasets/transforms.py's
// get_size_with_aspect_ratio, Pillow's bilinear resampling), to [0,1], then
// ImageNet mean/std. Pure functions; thread-safe.
#pragma once

#include <torch/torch.h>

#include <utility>

namespace ctrlfuse::model::grounding {

// (out_h, out_w) for an image of w x h, as get_size_with_aspect_ratio.
std::pair<int64_t, int64_t> GroundingInputSize(int64_t w, int64_t h, int64_t size = 800, int64_t max_size = 1333);

// rgb: uint8 [H,W,3] on the CPU -> float [3,out_h,out_w], normalised.
torch::Tensor GroundingImageTensor(const torch::Tensor& rgb, int64_t size = 800, int64_t max_size = 1333);

}  // namespace ctrlfuse::model::grounding
