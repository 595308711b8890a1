#include "model/grounding/fusion.h"

#include <cmath>

namespace ctrlfuse::model::grounding {

BiAttentionBlockImpl::BiAttentionBlockImpl(int v_dim, int l_dim, int embed_dim, int heads)
    : heads_(heads), embed_dim_(embed_dim) {
  norm_v_ = register_module("layer_norm_v", torch::nn::LayerNorm(torch::nn::LayerNormOptions({v_dim})));
  norm_l_ = register_module("layer_norm_l", torch::nn::LayerNorm(torch::nn::LayerNormOptions({l_dim})));
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
  v_proj_ = attn->register_module("v_proj", torch::nn::Linear(v_dim, embed_dim));
  l_proj_ = attn->register_module("l_proj", torch::nn::Linear(l_dim, embed_dim));
  values_v_proj_ = attn->register_module("values_v_proj", torch::nn::Linear(v_dim, embed_dim));
  values_l_proj_ = attn->register_module("values_l_proj", torch::nn::Linear(l_dim, embed_dim));
  out_v_proj_ = attn->register_module("out_v_proj", torch::nn::Linear(embed_dim, v_dim));
  out_l_proj_ = attn->register_module("out_l_proj", torch::nn::Linear(embed_dim, l_dim));
  gamma_v_ = register_parameter("gamma_v", torch::full({v_dim}, 1e-4));
  gamma_l_ = register_parameter("gamma_l", torch::full({l_dim}, 1e-4));
}

std::pair<torch::Tensor, torch::Tensor> BiAttentionBlockImpl::forward(const torch::Tensor& v_in,
                                                                      const torch::Tensor& l_in,
                                                                      const torch::Tensor& v_padding,
                                                                      const torch::Tensor& l_padding) {
  const torch::Tensor v = norm_v_(v_in), l = norm_l_(l_in);
  const int64_t b = v.size(0), s = v.size(1), n = l.size(1), d = embed_dim_ / heads_;
  auto heads = [&](const torch::Tensor& x, int64_t len) {
    return x.view({b, len, heads_, d}).transpose(1, 2).reshape({b * heads_, len, d});
  };
  const torch::Tensor query = heads(v_proj_(v) * std::pow(static_cast<double>(d), -0.5), s);
  const torch::Tensor key = heads(l_proj_(l), n);
  const torch::Tensor value_v = heads(values_v_proj_(v), s), value_l = heads(values_l_proj_(l), n);
  torch::Tensor logits = torch::bmm(query, key.transpose(1, 2));  // [B*h, S, n]
  logits = (logits - logits.max()).clamp(-50000, 50000);          // global max
  torch::Tensor logits_l = logits.transpose(1, 2);                // [B*h, n, S]
  logits_l = (logits_l - std::get<0>(logits_l.max(-1, true))).clamp(-50000, 50000);
  auto per_head = [&](const torch::Tensor& padding) {
    return padding.view({b, 1, 1, -1}).expand({b, heads_, 1, padding.size(1)}).reshape({b * heads_, 1, -1});
  };
  if (v_padding.defined()) logits_l = logits_l.masked_fill(per_head(v_padding), -INFINITY);
  if (l_padding.defined()) logits = logits.masked_fill(per_head(l_padding), -INFINITY);
  auto merge = [&](const torch::Tensor& x, int64_t len) {
    return x.view({b, heads_, len, d}).transpose(1, 2).reshape({b, len, embed_dim_});
  };
  const torch::Tensor delta_v = out_v_proj_(merge(torch::bmm(logits.softmax(-1), value_l), s));
  const torch::Tensor delta_l = out_l_proj_(merge(torch::bmm(logits_l.softmax(-1), value_v), n));
  return {v + gamma_v_ * delta_v, l + gamma_l_ * delta_l};
}

}  // namespace ctrlfuse::model::grounding
