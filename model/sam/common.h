// Small modules shared by SAM's parts.
#pragma once

#include <torch/torch.h>

namespace ctrlfuse::model::sam {

// LayerNorm over the channel dimension of [B,C,H,W] (eps 1e-6).
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;

 private:
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

// lin1 -> activation -> lin2 (`mlp.lin1`, `mlp.lin2`).
class MLPBlockImpl : public torch::nn::Module {
 public:
  MLPBlockImpl(int dim, int hidden, bool gelu);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear lin1_{nullptr}, lin2_{nullptr};
  bool gelu_;
};
TORCH_MODULE(MLPBlock);

// `layers.{0..depth-1}` Linear layers with ReLU between them.
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(int in, int hidden, int out, int depth);
  torch::Tensor forward(torch::Tensor x);

 private:
  std::vector<torch::nn::Linear> layers_;
};
TORCH_MODULE(MLP);

}  // namespace ctrlfuse::model::sam
