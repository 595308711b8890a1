#include "model/preprocess.h"

#include <algorithm>
#include <cmath>

namespace ctrlfuse::model {
namespace F = torch::nn::functional;

torch::Tensor NormalizeInfrared(const torch::Tensor& plane, int bit_depth, const IrNormalization& norm) {
  auto x = plane.to(torch::kFloat32);
  if (bit_depth == 8) return x / 255.0;
  if (norm.mode == IrNormalization::Mode::kLinear) return x / 65535.0;
  float lo = 0, hi = 0;
  if (norm.mode == IrNormalization::Mode::kMinMax) {
    lo = x.min().item<float>();
    hi = x.max().item<float>();
  } else {
    auto sorted = std::get<0>(x.flatten().sort());
    const int64_t n = sorted.numel();
    auto at = [&](double pct) {
      const int64_t i = std::clamp<int64_t>(std::llround(pct / 100.0 * double(n - 1)), 0, n - 1);
      return sorted[i].item<float>();
    };
    lo = at(norm.low_percentile);
    hi = at(norm.high_percentile);
  }
  if (hi <= lo) return torch::zeros_like(x);  // a flat frame carries no contrast
  return ((x - lo) / (hi - lo)).clamp(0, 1);
}

torch::Tensor PadToEven(const torch::Tensor& x) {
  const int64_t ph = x.size(2) % 2, pw = x.size(3) % 2;
  if (!ph && !pw) return x;
  return F::pad(x, F::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate));
}

torch::Tensor CropTo(const torch::Tensor& x, int64_t h, int64_t w) {
  if (x.size(2) == h && x.size(3) == w) return x;
  return x.slice(2, 0, h).slice(3, 0, w);
}

torch::Tensor Luma(const torch::Tensor& bgr) {
  auto c = bgr.unbind(1);
  return (0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]).unsqueeze(1);
}

torch::Tensor RoundedGreyCounts(const torch::Tensor& bgr_counts) {
  // In float64 every intermediate (at most 65535 * 32768 + 16384) is exact.
  auto c = bgr_counts.to(torch::kFloat64).unbind(1);
  auto fixed = 3735.0 * c[0] + 19235.0 * c[1] + 9798.0 * c[2] + 16384.0;
  return torch::floor(fixed / 32768.0).to(bgr_counts.scalar_type()).unsqueeze(1);
}

torch::Tensor ColorizeWithVisible(const torch::Tensor& fused_y, const torch::Tensor& vis_bgr) {
  auto c = vis_bgr.unbind(1);
  auto y = Luma(vis_bgr).squeeze(1);
  auto cr = (c[2] - y) * 0.713, cb = (c[0] - y) * 0.564;  // chroma around 0 (delta removed)
  auto f = fused_y.squeeze(1);
  auto r = f + 1.403 * cr, g = f - 0.714 * cr - 0.344 * cb, b = f + 1.773 * cb;
  return torch::stack({b, g, r}, 1).clamp(0, 1);
}

}  // namespace ctrlfuse::model
