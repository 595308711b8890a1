// The softmax step of SAM's ViT attention with its decomposed relative-
// position bias, on blocks of logits that stay in cache (rel_pos_attention.cc
// calls it between its two matrix products). Torch-free: plain float arrays.
//
// Thread-safety: pure functions of their arguments; callers give each thread
// its own rows.
#pragma once

#include <cstdint>

namespace ctrlfuse::model::sam {

// One block of keys of the online ("flash") softmax over SAM's attention
// logits with the decomposed relative-position bias. `s` holds `rows` rows
// of the logits for key grid rows [ky0, ky0 + kyn) of kh, kw keys each
// (row-major, row stride kyn*kw; key (ky0 + j, kx) at j*kw + kx). For row r
// it adds rel_h[r*kh + ky] + rel_w[r*kw + kx] to each logit (the bias summed
// first, as SAM's broadcast add does), updates the running maximum
// row_max[r] (start at -inf) and replaces the logits with exp(logit - new
// maximum); correction[r] = exp(old maximum - new maximum) (0 on the first
// block), by which the caller rescales what it accumulated, and row_sum[r]
// (start at 0) becomes row_sum[r] * correction[r] + the block's sum.
void BiasedSoftmaxBlock(float* s, int64_t rows, int64_t kh, int64_t ky0, int64_t kyn, int64_t kw, const float* rel_h,
                        const float* rel_w, float* row_max, float* row_sum, float* correction);

// exp(x) for x <= 0 as BiasedSoftmaxBlock computes it (x below -87 counts as
// -87: e^-87 ≈ 1.6e-38, nothing beside a row's maximum term, e^0 = 1).
// Relative error under 2 ulp; exposed for its test.
float ExpNonPositive(float x);

}  // namespace ctrlfuse::model::sam
