#include "model/sam/common.h"

namespace ctrlfuse::model::sam {

LayerNorm2dImpl::LayerNorm2dImpl(int channels, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}
torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  auto u = x.mean(1, true);
  auto s = (x - u).pow(2).mean(1, true);
  auto y = (x - u) / torch::sqrt(s + eps_);
  return weight.view({1, -1, 1, 1}) * y + bias.view({1, -1, 1, 1});
}

MLPBlockImpl::MLPBlockImpl(int dim, int hidden, bool gelu) : gelu_(gelu) {
  lin1_ = register_module("lin1", torch::nn::Linear(dim, hidden));
  lin2_ = register_module("lin2", torch::nn::Linear(hidden, dim));
}
torch::Tensor MLPBlockImpl::forward(const torch::Tensor& x) {
  auto h = lin1_(x);
  return lin2_(gelu_ ? torch::gelu(h) : torch::relu(h));
}

MLPImpl::MLPImpl(int in, int hidden, int out, int depth) {
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < depth; ++i) {
    layers_.emplace_back(i == 0 ? in : hidden, i == depth - 1 ? out : hidden);
    list->push_back(layers_.back());
  }
}
torch::Tensor MLPImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = layers_[i](x);
    if (i + 1 < layers_.size()) x = torch::relu(x);
  }
  return x;
}

}  // namespace ctrlfuse::model::sam
