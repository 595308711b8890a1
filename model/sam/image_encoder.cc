#include "model/sam/image_encoder.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/sam/rel_pos_attention.h"

namespace ctrlfuse::model::sam {
namespace F = torch::nn::functional;

namespace {
// Relative position embeddings for q_size x k_size, interpolated linearly
// when the stored table has another length (as SAM does).
torch::Tensor GetRelPos(int64_t q_size, int64_t k_size, const torch::Tensor& rel_pos) {
  const int64_t max_dist = 2 * std::max(q_size, k_size) - 1;
  torch::Tensor table = rel_pos;
  if (rel_pos.size(0) != max_dist) {
    table =
        F::interpolate(
            rel_pos.t().unsqueeze(0),
            F::InterpolateFuncOptions().size(std::vector<int64_t>{max_dist}).mode(torch::kLinear).align_corners(false))
            .squeeze(0)
            .t();
  }
  const double qs = std::max(double(k_size) / q_size, 1.0);
  const double ks = std::max(double(q_size) / k_size, 1.0);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(rel_pos.device());
  auto q = torch::arange(q_size, opts).unsqueeze(1) * qs;
  auto k = torch::arange(k_size, opts).unsqueeze(0) * ks;
  auto idx = (q - k + (k_size - 1) * ks).to(torch::kLong);
  if (torch::GradMode::is_enabled() && table.requires_grad()) {
    // Training: the backward of an indexed read accumulates the gradient
    // into the table in no fixed order on several threads (LibTorch 2.x),
    // which broke the bit-exact resume (TrainerTest); a one-hot product
    // selects the same values and its backward is a plain matrix product.
    auto onehot = torch::one_hot(idx, table.size(0)).to(table.dtype());  // [q,k,L]
    return torch::matmul(onehot, table);                                 // [q,k,C]
  }
  return table.index({idx});  // [q,k,C]
}

// SDPA with the decomposed bias as its additive mask, queries in chunks of
// whole grid rows, kQueriesPerChunk at most: the bias [BH, rows*w, h*w] then
// exists one chunk at a time (a global block's whole bias is 805 MB per
// ViT-B image, 3.2 GB for a batch of 4), at the same speed
// (bench/attention_bench.cc). The chunking depends on the grid only, never
// on the batch, so a batch computes what its images alone do. SDPA fuses
// scaling, softmax and the value product, which measured faster than the
// explicit matmul/softmax/matmul (docs/benchmarks.md).
torch::Tensor SdpaRelPosAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& rel_h, const torch::Tensor& rel_w) {
  const int64_t bh = q.size(0), h = rel_h.size(1), w = rel_h.size(2);
  constexpr int64_t kQueriesPerChunk = 512;
  const int64_t rows = std::max<int64_t>(1, kQueriesPerChunk / w);
  auto attend = [&](int64_t y0, int64_t y1) {
    const int64_t n = (y1 - y0) * w;
    auto bias = (rel_h.slice(1, y0, y1).unsqueeze(-1) + rel_w.slice(1, y0, y1).unsqueeze(-2)).view({bh, n, h * w});
    return at::scaled_dot_product_attention(q.slice(1, y0 * w, y1 * w), k, v, bias);
  };
  if (rows >= h) return attend(0, h);
  std::vector<torch::Tensor> parts;
  for (int64_t y0 = 0; y0 < h; y0 += rows) parts.push_back(attend(y0, std::min(h, y0 + rows)));
  return torch::cat(parts, 1);
}

// Pads [B,H,W,C] to window multiples and splits into [B*nw,ws,ws,C].
torch::Tensor WindowPartition(const torch::Tensor& x, int ws, int64_t* hp, int64_t* wp) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const int64_t ph = (ws - h % ws) % ws, pw = (ws - w % ws) % ws;
  auto y = (ph || pw) ? F::pad(x, F::PadFuncOptions({0, 0, 0, pw, 0, ph})) : x;
  *hp = h + ph;
  *wp = w + pw;
  y = y.view({b, *hp / ws, ws, *wp / ws, ws, c});
  return y.permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, ws, ws, c});
}

torch::Tensor WindowUnpartition(const torch::Tensor& win, int ws, int64_t hp, int64_t wp, int64_t h, int64_t w) {
  const int64_t b = win.size(0) / (hp * wp / ws / ws);
  auto x = win.view({b, hp / ws, wp / ws, ws, ws, -1});
  x = x.permute({0, 1, 3, 2, 4, 5}).contiguous().view({b, hp, wp, -1});
  if (hp > h || wp > w)
    x = x.index({torch::indexing::Slice(), torch::indexing::Slice(0, h), torch::indexing::Slice(0, w)}).contiguous();
  return x;
}
}  // namespace

ViTAttentionImpl::ViTAttentionImpl(int dim, int heads, int size) : heads_(heads) {
  qkv_ = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
  rel_pos_h_ = register_parameter("rel_pos_h", torch::zeros({2 * size - 1, dim / heads}));
  rel_pos_w_ = register_parameter("rel_pos_w", torch::zeros({2 * size - 1, dim / heads}));
}

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const int64_t hd = c / heads_;
  auto qkv = qkv_(x).reshape({b, h * w, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
  qkv = qkv.reshape({3, b * heads_, h * w, hd});
  auto q = qkv[0], k = qkv[1], v = qkv[2];
  // Decomposed relative positions: a height term and a width term per query.
  auto rh = GetRelPos(h, h, rel_pos_h_), rw = GetRelPos(w, w, rel_pos_w_);
  auto rq = q.reshape({b * heads_, h, w, hd});
  // einsum may return permuted strides, and the broadcast sum follows its
  // inputs' layout: make them contiguous (small) so the sum is and views.
  auto rel_h = torch::einsum("bhwc,hkc->bhwk", {rq, rh}).contiguous();
  auto rel_w = torch::einsum("bhwc,wkc->bhwk", {rq, rw}).contiguous();
  // On the CPU without autograd, bias, softmax and both products per
  // cache-sized tile (rel_pos_attention.h; docs/performance.md, change 8);
  // elsewhere (CUDA, training, bf16) SDPA with the bias as its mask.
  torch::Tensor out = CanUseFusedRelPosAttention(q)
                          ? FusedRelPosAttention(q, k, v, rel_h, rel_w, 1.0 / std::sqrt(double(hd)))
                          : SdpaRelPosAttention(q, k, v, rel_h, rel_w);
  out = out.reshape({b, heads_, h, w, hd}).permute({0, 2, 3, 1, 4});
  return proj_(out.reshape({b, h, w, c}));
}

ViTBlockImpl::ViTBlockImpl(int dim, int heads, int mlp_ratio, int window, int grid) : window_(window) {
  auto ln = [dim] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)); };
  norm1_ = register_module("norm1", ln());
  attn_ = register_module("attn", ViTAttention(dim, heads, window > 0 ? window : grid));
  norm2_ = register_module("norm2", ln());
  mlp_ = register_module("mlp", MLPBlock(dim, dim * mlp_ratio, /*gelu=*/true));
}

torch::Tensor ViTBlockImpl::forward(const torch::Tensor& x) {
  auto y = norm1_(x);
  if (window_ > 0) {
    int64_t hp = 0, wp = 0;
    y = WindowPartition(y, window_, &hp, &wp);
    y = WindowUnpartition(attn_(y), window_, hp, wp, x.size(1), x.size(2));
  } else {
    y = attn_(y);
  }
  y = x + y;
  return y + mlp_(norm2_(y));
}

ImageEncoderImpl::ImageEncoderImpl(const SamConfig& c) {
  const int g = c.grid();
  pos_embed_ = register_parameter("pos_embed", torch::zeros({1, g, g, c.embed_dim}));
  auto patch = std::make_shared<torch::nn::Module>();
  patch_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.embed_dim, c.patch).stride(c.patch));
  patch->register_module("proj", patch_);
  register_module("patch_embed", patch);
  auto list = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.depth; ++i) {
    const bool global =
        std::find(c.global_attn_indexes.begin(), c.global_attn_indexes.end(), i) != c.global_attn_indexes.end();
    blocks_.emplace_back(c.embed_dim, c.heads, c.mlp_ratio, global ? 0 : c.window, g);
    list->push_back(blocks_.back());
  }
  neck_ = register_module(
      "neck", torch::nn::Sequential(
                  torch::nn::Conv2d(torch::nn::Conv2dOptions(c.embed_dim, c.out_chans, 1).bias(false)),
                  LayerNorm2d(c.out_chans),
                  torch::nn::Conv2d(torch::nn::Conv2dOptions(c.out_chans, c.out_chans, 3).padding(1).bias(false)),
                  LayerNorm2d(c.out_chans)));
}

torch::Tensor ImageEncoderImpl::EmbedPatches(const torch::Tensor& x) {
  // The patch embedding's output permuted to [B,H,W,C] is not contiguous, and
  // an elementwise result keeps its first input's layout: without the copy,
  // every block after it would run its residual adds on that transposed
  // layout and each LayerNorm would copy it whole first (the release does;
  // 1.3 s of a 15 s forward at one thread). The values are the same.
  return patch_(x).permute({0, 2, 3, 1}).contiguous() + pos_embed_;
}

torch::Tensor ImageEncoderImpl::forward(const torch::Tensor& x) {
  auto y = EmbedPatches(x);
  for (auto& blk : blocks_) y = blk(y);
  return neck_->forward(y.permute({0, 3, 1, 2}));
}

}  // namespace ctrlfuse::model::sam
