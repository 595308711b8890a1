// BERT (the text backbone of GroundingDINO), with the official state_dict
// names (`bert.embeddings.*`, `bert.encoder.layer.N.*`, `bert.pooler.*`) so
// official checkpoints and transformers' BertModel load by name. GroundingDINO
// runs it with a 3-D block attention mask and its own restarting position
// ids (tokenizer.h); the pooler is stored but unused, as in the release.
//
// Thread-safety: as any torch::nn::Module, forward() in eval mode under
// InferenceMode may run concurrently; loading weights may not.
#pragma once

#include <torch/torch.h>

#include "model/grounding/grounding_config.h"

namespace ctrlfuse::model::grounding {

BertConfig BertBaseConfig();  // bert-base-uncased (the release)

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& c);
  // x [B,n,H]; mask [B,1,n,n] bool (true = may attend).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  int heads_;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, attn_out_{nullptr};
  torch::nn::LayerNorm attn_norm_{nullptr};
  torch::nn::Linear intermediate_{nullptr}, out_{nullptr};
  torch::nn::LayerNorm out_norm_{nullptr};
};
TORCH_MODULE(BertLayer);

class BertModelImpl : public torch::nn::Module {
 public:
  explicit BertModelImpl(const BertConfig& c);
  // input_ids, position_ids [B,n] int64; attention_mask [B,n,n] (the block
  // mask) or [B,n] (padding), bool or 0/1. Returns last_hidden_state [B,n,H];
  // token_type_ids are zero (as GroundingDINO passes them).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                        const torch::Tensor& attention_mask);
  const BertConfig& config() const { return config_; }

 private:
  BertConfig config_;
  torch::nn::Embedding word_{nullptr}, position_{nullptr}, token_type_{nullptr};
  torch::nn::LayerNorm embed_norm_{nullptr};
  std::vector<BertLayer> layers_;
  torch::nn::Linear pooler_{nullptr};  // loaded, never run
};
TORCH_MODULE(BertModel);

}  // namespace ctrlfuse::model::grounding
