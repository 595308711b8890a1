#include "model/sam/rel_pos_softmax.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ctrlfuse::model::sam {
namespace {

// exp on a value the caller has clamped to [-87, 0], written as plain float
// arithmetic so that it runs on whole vectors (there is no vector expf to
// call portably): x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series
// to degree 7 (remainder < 6e-9 relative), 2^n built in the exponent bits.
// Adding 1.5 * 2^23 rounds x / ln2 to the nearest integer n, which then
// sits in the low mantissa bits. T is float or a GCC vector of floats, I
// the integers of the same width.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693145751953125f;  // ln 2 = hi + lo, hi exact in 16 bits
constexpr float kLn2Lo = 1.42860682030941723e-06f;
constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23
constexpr int32_t kShifterBits = 0x4B400000;
constexpr float kExpFloor = -87.0f;  // e^-87 is still a normal float

template <typename T, typename I>
__attribute__((always_inline)) inline T ExpClamped(T x) {
  const T t = x * kLog2e + kShifter;
  const T n = t - kShifter;
  T r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  T p = r * (1.0f / 5040) + (1.0f / 720);
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  I t_bits;
  std::memcpy(&t_bits, &t, sizeof t_bits);
  const I scale_bits = (t_bits - kShifterBits + 127) << 23;
  T scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

// 16 floats: one AVX-512 register, two AVX2 ones, four SSE2 ones; the
// compiler splits it to what the clone below is built for.
using Vec = float __attribute__((vector_size(64)));
using VecInt = int32_t __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;

__attribute__((always_inline)) inline Vec Load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void Store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }

// One build per instruction set, chosen when the program loads (GCC's
// target_clones): the same source as AVX-512, AVX2 or baseline SSE2 code.
// The block's maximum and sum are kept per lane and combined at the end, so
// a sum is in lane order, not strictly left to right: a rounding
// difference, well within the parity tests' 1e-5.
__attribute__((target_clones("avx512f", "avx2", "default"))) void SoftmaxBlockImpl(float* s, int64_t rows, int64_t kh,
                                                                                   int64_t ky0, int64_t kyn, int64_t kw,
                                                                                   const float* rel_h,
                                                                                   const float* rel_w, float* row_max,
                                                                                   float* row_sum, float* correction) {
  const int64_t n = kyn * kw;
  const int64_t n_vec = n - n % kLanes;
  const Vec floor = Vec{} + kExpFloor;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s + r * n;
    const float* rh = rel_h + r * kh + ky0;
    const float* rw = rel_w + r * kw;
    for (int64_t ky = 0; ky < kyn; ++ky) {
      float* p = row + ky * kw;
      const float h = rh[ky];
      int64_t kx = 0;
      for (; kx + kLanes <= kw; kx += kLanes) Store(p + kx, Load(p + kx) + (h + Load(rw + kx)));
      for (; kx < kw; ++kx) p[kx] += h + rw[kx];
    }
    Vec mv = Vec{} - std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n_vec; i += kLanes) {
      const Vec v = Load(row + i);
      mv = v > mv ? v : mv;
    }
    const float old_max = row_max[r];
    float m = old_max;
    for (int64_t l = 0; l < kLanes; ++l) m = std::max(m, mv[l]);
    for (int64_t i = n_vec; i < n; ++i) m = std::max(m, row[i]);
    Vec sv = Vec{};
    for (int64_t i = 0; i < n_vec; i += kLanes) {
      Vec x = Load(row + i) - m;
      x = x < floor ? floor : x;
      const Vec e = ExpClamped<Vec, VecInt>(x);
      Store(row + i, e);
      sv += e;
    }
    float sum = 0.0f;
    for (int64_t l = 0; l < kLanes; ++l) sum += sv[l];
    for (int64_t i = n_vec; i < n; ++i) {
      const float e = ExpClamped<float, int32_t>(std::max(row[i] - m, kExpFloor));
      row[i] = e;
      sum += e;
    }
    // The first block has nothing to rescale (old_max is -inf).
    const float c = old_max == -std::numeric_limits<float>::infinity()
                        ? 0.0f
                        : ExpClamped<float, int32_t>(std::max(old_max - m, kExpFloor));
    correction[r] = c;
    row_sum[r] = row_sum[r] * c + sum;
    row_max[r] = m;
  }
}

}  // namespace

void BiasedSoftmaxBlock(float* s, int64_t rows, int64_t kh, int64_t ky0, int64_t kyn, int64_t kw, const float* rel_h,
                        const float* rel_w, float* row_max, float* row_sum, float* correction) {
  SoftmaxBlockImpl(s, rows, kh, ky0, kyn, kw, rel_h, rel_w, row_max, row_sum, correction);
}

float ExpNonPositive(float x) { return ExpClamped<float, int32_t>(std::max(std::min(x, 0.0f), kExpFloor)); }

}  // namespace ctrlfuse::model::sam
