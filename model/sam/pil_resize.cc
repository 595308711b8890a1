#include "model/sam/pil_resize.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace ctrlfuse::model::sam {
namespace {

// Pillow keeps 8-bit resampling weights as fixed point with this many
// fraction bits (32 bits minus 8 for the sample, minus 2 of headroom).
constexpr int kPrecisionBits = 32 - 8 - 2;

// One output sample's taps along one axis: the first input index and the
// integer weights of consecutive inputs from there.
struct Taps {
  int64_t first = 0;
  std::vector<int32_t> weights;
};

// Pillow's bilinear (triangle) filter, support 1 input pixel at scale 1.
double Triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

std::vector<Taps> AxisTaps(int64_t in_size, int64_t out_size) {
  const double scale = double(in_size) / double(out_size);
  const double filter_scale = std::max(scale, 1.0);  // widen only when shrinking
  const double support = 1.0 * filter_scale;
  const double inv_scale = 1.0 / filter_scale;  // multiplied, not divided: Pillow's rounding
  std::vector<Taps> out(static_cast<size_t>(out_size));
  std::vector<double> w;
  for (int64_t o = 0; o < out_size; ++o) {
    const double centre = (double(o) + 0.5) * scale;
    // Pillow truncates (int) these bounds; both are >= 0 after clamping.
    int64_t lo = int64_t(centre - support + 0.5);
    if (lo < 0) lo = 0;
    int64_t hi = int64_t(centre + support + 0.5);
    if (hi > in_size) hi = in_size;
    w.assign(size_t(hi - lo), 0.0);
    double total = 0;
    for (int64_t i = lo; i < hi; ++i) {
      w[size_t(i - lo)] = Triangle((double(i) - centre + 0.5) * inv_scale);
      total += w[size_t(i - lo)];
    }
    Taps& t = out[size_t(o)];
    t.first = lo;
    t.weights.resize(w.size());
    for (size_t k = 0; k < w.size(); ++k) {
      const double v = (total != 0.0 ? w[k] / total : w[k]) * double(1 << kPrecisionBits);
      t.weights[k] = int32_t(v < 0 ? v - 0.5 : v + 0.5);  // round half away from zero, as Pillow
    }
  }
  return out;
}

uint8_t Clip8(int64_t acc) {
  if (acc <= 0) return 0;
  if (acc >= (int64_t(255) << kPrecisionBits)) return 255;
  return uint8_t(acc >> kPrecisionBits);
}

}  // namespace

torch::Tensor PilBilinearResize(const torch::Tensor& image, int64_t out_h, int64_t out_w) {
  if (image.dim() != 3 || image.scalar_type() != torch::kUInt8 || !image.device().is_cpu())
    throw std::invalid_argument("PilBilinearResize: expected a uint8 [H,W,C] CPU tensor");
  if (out_h <= 0 || out_w <= 0) throw std::invalid_argument("PilBilinearResize: empty output size");
  auto in = image.contiguous();
  const int64_t h = in.size(0), w = in.size(1), c = in.size(2);
  if (h == out_h && w == out_w) return in.clone();  // Pillow returns a copy

  const auto vert = AxisTaps(h, out_h);
  // Pillow resamples only the input rows the vertical pass will read.
  const int64_t row0 = vert.front().first;
  const int64_t row1 = vert.back().first + int64_t(vert.back().weights.size());
  torch::Tensor mid = in;
  int64_t mid_row0 = 0;
  if (w != out_w) {
    const auto horiz = AxisTaps(w, out_w);
    mid = torch::empty({row1 - row0, out_w, c}, torch::kUInt8);
    const uint8_t* src = in.data_ptr<uint8_t>();
    uint8_t* dst = mid.data_ptr<uint8_t>();
    for (int64_t y = row0; y < row1; ++y) {
      for (int64_t x = 0; x < out_w; ++x) {
        const Taps& t = horiz[size_t(x)];
        for (int64_t ch = 0; ch < c; ++ch) {
          int64_t acc = int64_t(1) << (kPrecisionBits - 1);
          for (size_t k = 0; k < t.weights.size(); ++k)
            acc += int64_t(src[(y * w + t.first + int64_t(k)) * c + ch]) * t.weights[k];
          dst[((y - row0) * out_w + x) * c + ch] = Clip8(acc);
        }
      }
    }
    mid_row0 = row0;
  }
  if (h == out_h) return mid;
  auto out = torch::empty({out_h, out_w, c}, torch::kUInt8);
  const uint8_t* src = mid.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  for (int64_t y = 0; y < out_h; ++y) {
    const Taps& t = vert[size_t(y)];
    for (int64_t x = 0; x < out_w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) {
        int64_t acc = int64_t(1) << (kPrecisionBits - 1);
        for (size_t k = 0; k < t.weights.size(); ++k)
          acc += int64_t(src[((t.first - mid_row0 + int64_t(k)) * out_w + x) * c + ch]) * t.weights[k];
        dst[(y * out_w + x) * c + ch] = Clip8(acc);
      }
    }
  }
  return out;
}

}  // namespace ctrlfuse::model::sam
