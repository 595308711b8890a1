#include "model/sam/transformer.h"

#include <cmath>

namespace ctrlfuse::model::sam {

DownscaledAttentionImpl::DownscaledAttentionImpl(int dim, int heads, int downsample) : heads_(heads) {
  const int inner = dim / downsample;
  q_proj_ = register_module("q_proj", torch::nn::Linear(dim, inner));
  k_proj_ = register_module("k_proj", torch::nn::Linear(dim, inner));
  v_proj_ = register_module("v_proj", torch::nn::Linear(dim, inner));
  out_proj_ = register_module("out_proj", torch::nn::Linear(inner, dim));
}

torch::Tensor DownscaledAttentionImpl::forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  auto split = [this](const torch::Tensor& x) {
    return x.view({x.size(0), x.size(1), heads_, x.size(2) / heads_}).transpose(1, 2);
  };
  auto qh = split(q_proj_(q)), kh = split(k_proj_(k)), vh = split(v_proj_(v));
  // softmax(q k^T / sqrt(d)) v, fused (the scale is SDPA's default).
  // Contiguous inputs: SDPA's CPU kernel chooses its path by their strides,
  // and a cached encoding's slices must decode bit-identically to a forward.
  auto out = at::scaled_dot_product_attention(qh.contiguous(), kh.contiguous(), vh.contiguous()).transpose(1, 2);
  return out_proj_(out.reshape({out.size(0), out.size(1), -1}));
}

TwoWayAttentionBlockImpl::TwoWayAttentionBlockImpl(int dim, int heads, int mlp_dim, int downsample, bool skip_first_pe)
    : skip_first_pe_(skip_first_pe) {
  auto ln = [dim] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})); };
  self_attn_ = register_module("self_attn", DownscaledAttention(dim, heads, 1));
  norm1_ = register_module("norm1", ln());
  token_to_image_ = register_module("cross_attn_token_to_image", DownscaledAttention(dim, heads, downsample));
  norm2_ = register_module("norm2", ln());
  mlp_ = register_module("mlp", MLPBlock(dim, mlp_dim, /*gelu=*/false));
  norm3_ = register_module("norm3", ln());
  norm4_ = register_module("norm4", ln());
  image_to_token_ = register_module("cross_attn_image_to_token", DownscaledAttention(dim, heads, downsample));
}

void TwoWayAttentionBlockImpl::forward(torch::Tensor& queries, torch::Tensor& keys, const torch::Tensor& query_pe,
                                       const torch::Tensor& key_pe) {
  if (skip_first_pe_) {
    queries = self_attn_(queries, queries, queries);
  } else {
    auto q = queries + query_pe;
    queries = queries + self_attn_(q, q, queries);
  }
  queries = norm1_(queries);
  auto q = queries + query_pe, k = keys + key_pe;
  queries = norm2_(queries + token_to_image_(q, k, keys));
  queries = norm3_(queries + mlp_(queries));
  q = queries + query_pe;
  k = keys + key_pe;
  keys = norm4_(keys + image_to_token_(k, q, queries));
}

TwoWayTransformerImpl::TwoWayTransformerImpl(int depth, int dim, int heads, int mlp_dim, int downsample) {
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < depth; ++i) {
    layers_.emplace_back(dim, heads, mlp_dim, downsample, i == 0);
    list->push_back(layers_.back());
  }
  final_attn_ = register_module("final_attn_token_to_image", DownscaledAttention(dim, heads, downsample));
  norm_final_ = register_module("norm_final_attn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

std::pair<torch::Tensor, torch::Tensor> TwoWayTransformerImpl::forward(const torch::Tensor& image,
                                                                       const torch::Tensor& image_pe,
                                                                       const torch::Tensor& tokens) {
  auto keys = image.flatten(2).transpose(1, 2);
  auto key_pe = image_pe.flatten(2).transpose(1, 2);
  auto queries = tokens;
  for (auto& layer : layers_) layer->forward(queries, keys, tokens, key_pe);
  auto q = queries + tokens, k = keys + key_pe;
  queries = norm_final_(queries + final_attn_(q, k, keys));
  return {queries, keys};
}

}  // namespace ctrlfuse::model::sam
