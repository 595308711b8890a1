#include "model/grounding/bert.h"

#include <string>

namespace ctrlfuse::model::grounding {
namespace F = torch::nn::functional;

BertConfig BertBaseConfig() { return BertConfig{}; }

namespace {
torch::nn::LayerNorm Norm(const BertConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden}).eps(c.layer_norm_eps));
}
}  // namespace

BertLayerImpl::BertLayerImpl(const BertConfig& c) : heads_(c.heads) {
  // The official nesting: attention.self.{query,key,value},
  // attention.output.{dense,LayerNorm}, intermediate.dense,
  // output.{dense,LayerNorm}.
  auto attention = register_module("attention", std::make_shared<torch::nn::Module>());
  auto self = attention->register_module("self", std::make_shared<torch::nn::Module>());
  query_ = self->register_module("query", torch::nn::Linear(c.hidden, c.hidden));
  key_ = self->register_module("key", torch::nn::Linear(c.hidden, c.hidden));
  value_ = self->register_module("value", torch::nn::Linear(c.hidden, c.hidden));
  auto attn_output = attention->register_module("output", std::make_shared<torch::nn::Module>());
  attn_out_ = attn_output->register_module("dense", torch::nn::Linear(c.hidden, c.hidden));
  attn_norm_ = attn_output->register_module("LayerNorm", Norm(c));
  auto intermediate = register_module("intermediate", std::make_shared<torch::nn::Module>());
  intermediate_ = intermediate->register_module("dense", torch::nn::Linear(c.hidden, c.intermediate));
  auto output = register_module("output", std::make_shared<torch::nn::Module>());
  out_ = output->register_module("dense", torch::nn::Linear(c.intermediate, c.hidden));
  out_norm_ = output->register_module("LayerNorm", Norm(c));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t b = x.size(0), n = x.size(1), h = x.size(2), d = h / heads_;
  auto split = [&](const torch::Tensor& t) { return t.view({b, n, heads_, d}).transpose(1, 2); };
  // Scores / sqrt(d), masked, softmax: as BertSelfAttention (whose additive
  // mask of finfo.min gives the masked positions the same zero weight).
  torch::Tensor context = at::scaled_dot_product_attention(split(query_(x)), split(key_(x)), split(value_(x)), mask);
  context = context.transpose(1, 2).reshape({b, n, h});
  const torch::Tensor attended = attn_norm_(attn_out_(context) + x);
  return out_norm_(out_(F::gelu(intermediate_(attended))) + attended);
}

BertModelImpl::BertModelImpl(const BertConfig& c) : config_(c) {
  auto embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  word_ = embeddings->register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden));
  position_ = embeddings->register_module("position_embeddings", torch::nn::Embedding(c.max_positions, c.hidden));
  token_type_ = embeddings->register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden));
  embed_norm_ = embeddings->register_module("LayerNorm", Norm(c));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  auto layer = encoder->register_module("layer", std::make_shared<torch::nn::Module>());
  for (int i = 0; i < c.layers; ++i) layers_.push_back(layer->register_module(std::to_string(i), BertLayer(c)));
  auto pooler = register_module("pooler", std::make_shared<torch::nn::Module>());
  pooler_ = pooler->register_module("dense", torch::nn::Linear(c.hidden, c.hidden));
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                     const torch::Tensor& attention_mask) {
  TORCH_CHECK(input_ids.dim() == 2 && position_ids.sizes() == input_ids.sizes(),
              "BERT: input_ids and position_ids must be [B,n] of one shape");
  const int64_t n = input_ids.size(1);
  TORCH_CHECK(n <= config_.max_positions, "BERT: ", n, " tokens exceed ", config_.max_positions, " positions");
  torch::Tensor x = word_(input_ids) + position_(position_ids) + token_type_->weight[0];
  x = embed_norm_(x);
  // [B,n,n] block mask -> [B,1,n,n]; [B,n] padding -> [B,1,1,n] (as
  // get_extended_attention_mask broadcasts them).
  torch::Tensor mask = attention_mask.to(torch::kBool);
  mask = mask.dim() == 3 ? mask.unsqueeze(1) : mask.view({mask.size(0), 1, 1, n});
  for (auto& layer : layers_) x = layer(x, mask);
  return x;
}

}  // namespace ctrlfuse::model::grounding
