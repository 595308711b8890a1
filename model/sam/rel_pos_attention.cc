#include "model/sam/rel_pos_attention.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "model/sam/rel_pos_softmax.h"

// MKL's per-thread thread count, where the BLAS LibTorch links is MKL (a
// weak reference: null elsewhere), in its Fortran form (argument by
// pointer), the one every MKL exports under this name; the torch wheel's
// C-named symbol is the same function. LibTorch turns MKL's dynamic threading
// off, so a product called inside an intra-op parallel region would start
// its own threads on top of the region's (measured: no gain from a second
// thread, a tenth of the time in MKL's OpenMP code).
extern "C" int mkl_set_num_threads_local_(const int*) __attribute__((weak));  // NOLINT(readability-identifier-naming)

namespace ctrlfuse::model::sam {
namespace {
// Tile sizes in queries and keys, rounded to whole grid rows (at least one):
// a tile's logits (256 x 512 floats, 512 KiB), its keys and values (128 KiB
// each) and its output stay in a core's L2 across the blocks of keys, as
// in a flash-attention kernel (LibTorch's CPU one uses 256 x 512 too).
// Measured against whole-row tiles in bench/attention_bench: those read
// every key and value from L3 for each tile and scaled worse with threads.
constexpr int64_t kQueriesPerTile = 256;
constexpr int64_t kKeysPerBlock = 512;

bool FusedEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("CTRLFUSE_SAM_ATTENTION");
    return v == nullptr || std::strcmp(v, "sdpa") != 0;
  }();
  return enabled;
}
}  // namespace

bool CanUseFusedRelPosAttention(const torch::Tensor& q) {
  return FusedEnabled() && q.device().is_cpu() && q.scalar_type() == torch::kFloat32 &&
         !(torch::GradMode::is_enabled() && q.requires_grad());
}

torch::Tensor FusedRelPosAttention(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                   const torch::Tensor& rel_h_in, const torch::Tensor& rel_w_in, double scale) {
  TORCH_CHECK(q_in.dim() == 3 && rel_h_in.dim() == 4 && rel_w_in.dim() == 4, "FusedRelPosAttention: ranks");
  const int64_t bh = q_in.size(0), n = q_in.size(1), d = q_in.size(2);
  const int64_t h = rel_h_in.size(1), w = rel_h_in.size(2);
  TORCH_CHECK(h * w == n && k_in.sizes() == q_in.sizes() && v_in.sizes() == q_in.sizes(),
              "FusedRelPosAttention: q, k, v must be [BH, h*w, D] alike");
  TORCH_CHECK(
      rel_h_in.sizes() == torch::IntArrayRef({bh, h, w, h}) && rel_w_in.sizes() == torch::IntArrayRef({bh, h, w, w}),
      "FusedRelPosAttention: rel_h must be [BH, h, w, h] and rel_w [BH, h, w, w]");
  auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  auto rel_h = rel_h_in.contiguous(), rel_w = rel_w_in.contiguous();
  auto out = torch::empty({bh, n, d}, q.options());
  const int64_t q_rows = std::clamp<int64_t>(kQueriesPerTile / w, 1, h);  // grid rows per query tile
  const int64_t k_rows = std::clamp<int64_t>(kKeysPerBlock / w, 1, h);    // grid rows per key block
  const int64_t tiles_per_head = (h + q_rows - 1) / q_rows;
  // As SAM: (q * scale) kᵀ, the scaling on the small side.
  const auto q_scaled = q * scale;
  const float* rhp = rel_h.data_ptr<float>();
  const float* rwp = rel_w.data_ptr<float>();
  at::parallel_for(0, bh * tiles_per_head, 1, [&](int64_t begin, int64_t end) {
    // This thread's buffers, reused for all its tiles. The products are
    // LibTorch's (MKL's SGEMM here), on this thread alone.
    const int one = 1;
    const int previous_mkl_threads = mkl_set_num_threads_local_ ? mkl_set_num_threads_local_(&one) : 0;
    auto logits_buf = torch::empty({q_rows * w, k_rows * w}, q.options());
    auto acc_buf = torch::empty({q_rows * w, d}, q.options());
    std::vector<float> row_max(q_rows * w), row_sum(q_rows * w), correction(q_rows * w);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t head = task / tiles_per_head;
      const int64_t y0 = (task % tiles_per_head) * q_rows;
      const int64_t queries = (std::min(h, y0 + q_rows) - y0) * w;
      const int64_t first = head * n + y0 * w;  // the tile's first query in [BH * n]
      const auto q_tile = q_scaled[head].narrow(0, y0 * w, queries);
      const auto k_head = k[head], v_head = v[head];
      auto acc = acc_buf.narrow(0, 0, queries);
      float* ap = acc.data_ptr<float>();
      std::fill_n(row_max.data(), queries, -std::numeric_limits<float>::infinity());
      std::fill_n(row_sum.data(), queries, 0.0f);
      for (int64_t ky0 = 0; ky0 < h; ky0 += k_rows) {
        const int64_t kyn = std::min(h, ky0 + k_rows) - ky0;
        auto logits = logits_buf.view(-1).narrow(0, 0, queries * kyn * w).view({queries, kyn * w});
        at::mm_out(logits, q_tile, k_head.narrow(0, ky0 * w, kyn * w).t());
        BiasedSoftmaxBlock(logits.data_ptr<float>(), queries, h, ky0, kyn, w, rhp + first * h, rwp + first * w,
                           row_max.data(), row_sum.data(), correction.data());
        const auto v_block = v_head.narrow(0, ky0 * w, kyn * w);
        if (ky0 == 0) {
          at::mm_out(acc, logits, v_block);
        } else {
          for (int64_t r = 0; r < queries; ++r) {
            const float c = correction[r];
            for (int64_t j = 0; j < d; ++j) ap[r * d + j] *= c;
          }
          acc.addmm_(logits, v_block);
        }
      }
      float* op = out.data_ptr<float>() + first * d;
      for (int64_t r = 0; r < queries; ++r) {
        const float inv = 1.0f / row_sum[r];
        for (int64_t j = 0; j < d; ++j) op[r * d + j] = ap[r * d + j] * inv;
      }
    }
    if (mkl_set_num_threads_local_) mkl_set_num_threads_local_(&previous_mkl_threads);  // 0: the global count
  });
  return out;
}

int IntraOpThreadsReached(int64_t tasks) {
  std::mutex mu;
  std::set<std::thread::id> seen;
  at::parallel_for(0, tasks, 1, [&](int64_t, int64_t) {
    const std::lock_guard<std::mutex> lock(mu);
    seen.insert(std::this_thread::get_id());
  });
  return static_cast<int>(seen.size());
}

}  // namespace ctrlfuse::model::sam
