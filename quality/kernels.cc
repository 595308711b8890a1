#include "quality/kernels.h"

#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ctrlfuse::quality::kernels {
namespace {

#if defined(CTRLFUSE_HAVE_LIBMVEC)
// libmvec's entry points (the x86-64 vector function ABI names GCC itself
// calls under -ffast-math): b = SSE, 2 lanes, on every x86-64; d = AVX2,
// 4 lanes. Both dispatch inside glibc to the best implementation the CPU
// has. Called directly so the rest of this file keeps strict IEEE
// semantics (no -ffast-math). The names are reserved identifiers because
// they are the implementation's own (the ABI's), hence the NOLINTs.
// NOLINTBEGIN(bugprone-reserved-identifier)
extern "C" {
__m128d _ZGVbN2v_atan(__m128d);
__m128d _ZGVbN2v_exp(__m128d);
__m128d _ZGVbN2v_log10(__m128d);
}
#pragma GCC push_options
#pragma GCC target("avx2")
extern "C" {
__m256d _ZGVdN4v_atan(__m256d);
__m256d _ZGVdN4v_exp(__m256d);
__m256d _ZGVdN4v_log10(__m256d);
}
// NOLINTEND(bugprone-reserved-identifier)
using Avx = __m256d (*)(__m256d);

// A tail shorter than the vector goes through the same function (padded),
// so a value never depends on where in the array it sits.
void MapAvx(Avx f, const double* in, double* out, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, f(_mm256_loadu_pd(in + i)));
  if (i == n) return;
  double pad[4] = {1, 1, 1, 1};
  std::memcpy(pad, in + i, (n - i) * sizeof(double));
  _mm256_storeu_pd(pad, f(_mm256_loadu_pd(pad)));
  std::memcpy(out + i, pad, (n - i) * sizeof(double));
}
#pragma GCC pop_options

using Sse = __m128d (*)(__m128d);

void MapSse(Sse f, const double* in, double* out, size_t n) {
  size_t i = 0;
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(out + i, f(_mm_loadu_pd(in + i)));
  if (i < n) {
    double pad[2] = {in[i], 1};
    _mm_storeu_pd(pad, f(_mm_loadu_pd(pad)));
    out[i] = pad[0];
  }
}

bool HasAvx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

// out[c] = k[0]*s[c] + k[1]*s[c+1] + ... + k[taps-1]*s[c+taps-1] (s read
// with `s_step` between taps: 1 along a row, a row's length down a
// column), added in that order for every c whatever the instruction set:
// no fma, so the vector paths give the scalar loop's values bit for bit.
// Sixteen outputs at a time stay in registers across the taps, four
// independent sums so the adds' latency is hidden; each multiply-add costs
// one load.
void CorrelateScalar(const double* s, size_t s_step, const double* k, size_t taps, double* out, size_t c, size_t n) {
  for (; c < n; ++c) {
    double acc = 0;
    for (size_t u = 0; u < taps; ++u) acc += k[u] * s[u * s_step + c];
    out[c] = acc;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void CorrelateAvx2(const double* s, size_t s_step, const double* k, size_t taps,
                                                   double* out, size_t n) {
  size_t c = 0;
  for (; c + 16 <= n; c += 16) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t u = 0; u < taps; ++u) {
      const __m256d w = _mm256_set1_pd(k[u]);
      const double* p = s + u * s_step + c;
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(w, _mm256_loadu_pd(p)));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(w, _mm256_loadu_pd(p + 4)));
      a2 = _mm256_add_pd(a2, _mm256_mul_pd(w, _mm256_loadu_pd(p + 8)));
      a3 = _mm256_add_pd(a3, _mm256_mul_pd(w, _mm256_loadu_pd(p + 12)));
    }
    _mm256_storeu_pd(out + c, a0);
    _mm256_storeu_pd(out + c + 4, a1);
    _mm256_storeu_pd(out + c + 8, a2);
    _mm256_storeu_pd(out + c + 12, a3);
  }
  CorrelateScalar(s, s_step, k, taps, out, c, n);
}

void CorrelateSse2(const double* s, size_t s_step, const double* k, size_t taps, double* out, size_t n) {
  size_t c = 0;
  for (; c + 8 <= n; c += 8) {
    __m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t u = 0; u < taps; ++u) {
      const __m128d w = _mm_set1_pd(k[u]);
      const double* p = s + u * s_step + c;
      a0 = _mm_add_pd(a0, _mm_mul_pd(w, _mm_loadu_pd(p)));
      a1 = _mm_add_pd(a1, _mm_mul_pd(w, _mm_loadu_pd(p + 2)));
      a2 = _mm_add_pd(a2, _mm_mul_pd(w, _mm_loadu_pd(p + 4)));
      a3 = _mm_add_pd(a3, _mm_mul_pd(w, _mm_loadu_pd(p + 6)));
    }
    _mm_storeu_pd(out + c, a0);
    _mm_storeu_pd(out + c + 2, a1);
    _mm_storeu_pd(out + c + 4, a2);
    _mm_storeu_pd(out + c + 6, a3);
  }
  CorrelateScalar(s, s_step, k, taps, out, c, n);
}
#endif

void Correlate(const double* s, size_t s_step, const double* k, size_t taps, double* out, size_t n) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  avx2 ? CorrelateAvx2(s, s_step, k, taps, out, n) : CorrelateSse2(s, s_step, k, taps, out, n);
#else
  CorrelateScalar(s, s_step, k, taps, out, 0, n);
#endif
}

// Each row of x correlated with k at columns 0, stride, 2*stride, ... of
// the valid range. [x.rows, out_cols].
void RowPass(const double* x, size_t rows, size_t cols, size_t x_step, const double* k, size_t taps, size_t stride,
             size_t out_cols, double* t) {
  // At stride 2 the values each tap reads are gathered first, tap u's
  // x[2c + u] in row u of a [taps, out_cols] buffer, so that the sum over
  // the taps is a column read like the column pass's.
  if (stride == 1) {
    for (size_t i = 0; i < rows; ++i) Correlate(x + i * x_step, 1, k, taps, t + i * out_cols, out_cols);
    return;
  }
  std::vector<double> gathered(taps * out_cols);
  for (size_t i = 0; i < rows; ++i) {
    const double* src = x + i * x_step;
    for (size_t u = 0; u < taps; ++u)
      for (size_t c = 0; c < out_cols; ++c) gathered[u * out_cols + c] = src[c * stride + u];
    Correlate(gathered.data(), out_cols, k, taps, t + i * out_cols, out_cols);
  }
  (void)cols;
}

// out row o = sum over u of k[u] * t row (o*stride + u), in tap order.
void ColumnPass(const double* t, size_t out_cols, const double* k, size_t taps, size_t stride, size_t out_rows,
                double* out, size_t out_step) {
  for (size_t o = 0; o < out_rows; ++o)
    Correlate(t + o * stride * out_cols, out_cols, k, taps, out + o * out_step, out_cols);
}

}  // namespace

bool Vectorised() {
#if defined(CTRLFUSE_HAVE_LIBMVEC)
  return true;
#else
  return false;
#endif
}

#if defined(CTRLFUSE_HAVE_LIBMVEC)
#define CTRLFUSE_MAP(avx, sse, scalar) HasAvx2() ? MapAvx(avx, in, out, n) : MapSse(sse, in, out, n)
#else
#define CTRLFUSE_MAP(avx, sse, scalar) \
  for (size_t i = 0; i < n; ++i) out[i] = scalar(in[i])
#endif

void Atan(const double* in, double* out, size_t n) { CTRLFUSE_MAP(_ZGVdN4v_atan, _ZGVbN2v_atan, std::atan); }
void Exp(const double* in, double* out, size_t n) { CTRLFUSE_MAP(_ZGVdN4v_exp, _ZGVbN2v_exp, std::exp); }
void Log10(const double* in, double* out, size_t n) { CTRLFUSE_MAP(_ZGVdN4v_log10, _ZGVbN2v_log10, std::log10); }

#undef CTRLFUSE_MAP

void StrengthOrientation(const double* gx, const double* gy, double* g, double* alpha, size_t n) {
  size_t i = 0;
#if defined(__x86_64__)
  // SSE2 (every x86-64): sqrt and division are correctly rounded in both
  // paths, so the values equal the scalar loop's. alpha holds the ratio
  // (0 where gx == 0) until the atan.
  const __m128d zero = _mm_setzero_pd();
  for (; i + 2 <= n; i += 2) {
    const __m128d x = _mm_loadu_pd(gx + i), y = _mm_loadu_pd(gy + i);
    _mm_storeu_pd(g + i, _mm_sqrt_pd(_mm_add_pd(_mm_mul_pd(x, x), _mm_mul_pd(y, y))));
    _mm_storeu_pd(alpha + i, _mm_andnot_pd(_mm_cmpeq_pd(x, zero), _mm_div_pd(y, x)));
  }
#endif
  for (; i < n; ++i) {
    g[i] = std::sqrt(gx[i] * gx[i] + gy[i] * gy[i]);
    alpha[i] = gx[i] == 0 ? 0 : gy[i] / gx[i];
  }
  Atan(alpha, alpha, n);
  for (i = 0; i < n; ++i)
    if (gx[i] == 0) alpha[i] = M_PI / 2;
}

cv::Mat FilterValid(const cv::Mat& x, const cv::Mat& k, int stride) {
  CV_Assert(x.type() == CV_64FC1 && k.type() == CV_64FC1 && k.cols == 1 && k.rows % 2 == 1);
  CV_Assert(stride == 1 || stride == 2);
  const int taps = k.rows, valid_rows = x.rows - taps + 1, valid_cols = x.cols - taps + 1;
  if (valid_rows <= 0 || valid_cols <= 0) return cv::Mat();
  const int out_rows = (valid_rows + stride - 1) / stride, out_cols = (valid_cols + stride - 1) / stride;
  const cv::Mat kc = k.isContinuous() ? k : k.clone();
  std::vector<double> t(size_t(x.rows) * size_t(out_cols));
  RowPass(x.ptr<double>(), size_t(x.rows), size_t(x.cols), x.step1(), kc.ptr<double>(), size_t(taps), size_t(stride),
          size_t(out_cols), t.data());
  cv::Mat out(out_rows, out_cols, CV_64F);
  ColumnPass(t.data(), size_t(out_cols), kc.ptr<double>(), size_t(taps), size_t(stride), size_t(out_rows),
             out.ptr<double>(), out.step1());
  return out;
}

}  // namespace ctrlfuse::quality::kernels
