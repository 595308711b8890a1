#include "model/attention.h"

#include <cmath>

namespace ctrlfuse::model {

MultiheadAttentionImpl::MultiheadAttentionImpl(int dim, int heads) : dim_(dim), heads_(heads) {
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * dim, dim}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * dim}));
  out_proj = register_module("out_proj", torch::nn::Linear(dim, dim));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::nn::init::zeros_(out_proj->bias);
}

std::pair<torch::Tensor, torch::Tensor> MultiheadAttentionImpl::ProjectKeysValues(const torch::Tensor& k,
                                                                                  const torch::Tensor& v) {
  const auto w = in_proj_weight.chunk(3, 0);
  const auto b = in_proj_bias.chunk(3, 0);
  const int64_t bsz = k.size(0), lk = k.size(1), hd = dim_ / heads_;
  auto split = [&](const torch::Tensor& x) { return x.view({bsz, lk, heads_, hd}).transpose(1, 2).contiguous(); };
  return {split(torch::nn::functional::linear(k, w[1], b[1])), split(torch::nn::functional::linear(v, w[2], b[2]))};
}

torch::Tensor MultiheadAttentionImpl::Attend(const torch::Tensor& q, const std::pair<torch::Tensor, torch::Tensor>& kv,
                                             const torch::Tensor& allowed) {
  const auto w = in_proj_weight.chunk(3, 0);
  const auto b = in_proj_bias.chunk(3, 0);
  const int64_t bsz = q.size(0), lq = q.size(1), hd = dim_ / heads_;
  auto qh = torch::nn::functional::linear(q, w[0], b[0]).view({bsz, lq, heads_, hd}).transpose(1, 2);
  // softmax(q k^T / sqrt(hd)) v, fused (the scale is SDPA's default).
  // Contiguous inputs: SDPA's CPU kernel chooses its path by their strides,
  // and a cached encoding's slices must decode bit-identically to a forward.
  auto out = at::scaled_dot_product_attention(qh.contiguous(), kv.first, kv.second,
                                              allowed.defined() ? std::optional<torch::Tensor>(allowed) : std::nullopt)
                 .transpose(1, 2)
                 .reshape({bsz, lq, dim_});
  return out_proj(out);
}

torch::Tensor MultiheadAttentionImpl::forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                              const torch::Tensor& allowed) {
  return Attend(q, ProjectKeysValues(k, v), allowed);
}

torch::Tensor SinePositionEncoding(int channels, int h, int w, const torch::TensorOptions& opts) {
  const int feats = channels / 2;
  const double scale = 2 * M_PI, eps = 1e-6;
  auto fopts = opts.dtype(torch::kFloat32);
  auto y = torch::arange(1, h + 1, fopts).view({h, 1}).expand({h, w});
  auto x = torch::arange(1, w + 1, fopts).view({1, w}).expand({h, w});
  y = y / (h + eps) * scale;
  x = x / (w + eps) * scale;
  auto dim_t = torch::arange(feats, fopts);
  dim_t = torch::pow(10000.0, 2 * torch::floor(dim_t / 2) / feats);
  auto encode = [&](const torch::Tensor& e) {
    auto p = e.unsqueeze(-1) / dim_t;  // [h,w,feats]
    auto sin = p.index({"...", torch::indexing::Slice(0, torch::indexing::None, 2)}).sin();
    auto cos = p.index({"...", torch::indexing::Slice(1, torch::indexing::None, 2)}).cos();
    return torch::stack({sin, cos}, -1).flatten(2);  // interleaved sin/cos
  };
  auto pos = torch::cat({encode(y), encode(x)}, -1);  // [h,w,channels]
  return pos.permute({2, 0, 1}).unsqueeze(0).to(opts.dtype());
}

}  // namespace ctrlfuse::model
