// SAM's ViT attention with its decomposed relative-position bias, fused for
// CPU inference: softmax(q kᵀ · scale + rel_h + rel_w) v, computed per head
// and per tile of query rows, so that neither the [queries, keys] bias nor
// the score map ever exists whole (a ViT-B global block's would be 805 MB
// per image). Each tile's logits stay in cache between the two matrix
// products (LibTorch's CPU BLAS, one thread per tile), and the bias, the
// softmax and the row scaling are one pass over them (rel_pos_softmax.h).
//
// docs/performance.md ("fused rel-pos attention") has its measurements;
// image_encoder.cc uses it where it applies (CanUseFusedRelPosAttention)
// and SDPA with the bias as mask elsewhere (CUDA, autograd, bf16).
//
// Thread-safety: a pure function of its arguments; it runs its tiles on
// LibTorch's intra-op pool.
#pragma once

#include <torch/torch.h>

namespace ctrlfuse::model::sam {

// q, k, v: [BH, h*w, D] (self-attention over an h x w grid); rel_h:
// [BH, h, w, h], rel_w: [BH, h, w, w] (SAM's decomposed terms, not scaled).
// Returns [BH, h*w, D]. The tiling depends on the grid alone, never on BH,
// so an image in a batch gets what it gets alone.
torch::Tensor FusedRelPosAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const torch::Tensor& rel_h, const torch::Tensor& rel_w, double scale);

// True where FusedRelPosAttention applies to these inputs: float32 on the
// CPU with no gradient to record, and not switched off by the environment
// (CTRLFUSE_SAM_ATTENTION=sdpa, read once: the benchmarks' A/B switch).
bool CanUseFusedRelPosAttention(const torch::Tensor& q);

// How many distinct threads at::parallel_for reaches from this file over
// `tasks` tasks: the intra-op thread count (at most `tasks`) when the file is
// built with OpenMP, as model/CMakeLists.txt builds it, and 1 when it is not
// (ATen's OpenMP loop is inline in its headers, so a file built without
// -fopenmp runs it on the calling thread). The test of that build setting.
int IntraOpThreadsReached(int64_t tasks);

}  // namespace ctrlfuse::model::sam
