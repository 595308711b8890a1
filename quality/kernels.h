// The metrics' inner loops: elementwise transcendental functions over whole
// arrays, and MATLAB's filter2(k * k', x, 'valid') for separable windows.
// Arrays rather than single values so the loops vectorise: with glibc's
// libmvec (x86-64, glibc >= 2.35) atan, exp and log10 run 2 or 4 values per
// instruction, at most a few ulp from libm's scalar results (the kernels
// test bounds them); elsewhere they are libm's scalar functions.
//
// Stateless: every function is safe to call from any number of threads at
// once. Pointers are borrowed for the call only.
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>

namespace ctrlfuse::quality::kernels {

// out[i] = f(in[i]) for i < n. `in` and `out` may be the same array.
void Atan(const double* in, double* out, size_t n);
void Exp(const double* in, double* out, size_t n);
void Log10(const double* in, double* out, size_t n);

// Sobel responses to edge strength and orientation, as Q^AB/F and N^AB/F
// define them: g[i] = sqrt(gx[i]^2 + gy[i]^2), alpha[i] = atan(gy[i] /
// gx[i]), and pi/2 where gx[i] == 0. g and alpha must not overlap the inputs.
void StrengthOrientation(const double* gx, const double* gy, double* g, double* alpha, size_t n);

// Whether the functions above run on libmvec's SIMD variants.
bool Vectorised();

// filter2(k * k', x, 'valid'): correlation of CV_64F `x` with the separable
// window of the odd-length column vector `k` (CV_64F), over the positions
// where the window lies inside x. [rows - 2r, cols - 2r] for r = k.rows / 2;
// empty when x is not larger than the window. With `stride` 2 only every
// second position in each direction (rows and columns 0, 2, 4, ... of the
// full result, which is filter2 followed by x(1:2:end, 1:2:end)), at a
// quarter of the work; each value is the same as at stride 1.
cv::Mat FilterValid(const cv::Mat& x, const cv::Mat& k, int stride = 1);

}  // namespace ctrlfuse::quality::kernels
