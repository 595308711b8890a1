#include "model/blocks.h"

namespace ctrlfuse::model {
namespace F = torch::nn::functional;

namespace {
torch::nn::Conv2d Conv(int in, int out, int k, bool bias = true, int groups = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(k / 2).bias(bias).groups(groups));
}
torch::Tensor LReLU(const torch::Tensor& x, double slope) {
  return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(slope));
}
}  // namespace

ConvLReLUImpl::ConvLReLUImpl(int in, int out) { conv = register_module("conv", Conv(in, out, 3)); }
torch::Tensor ConvLReLUImpl::forward(const torch::Tensor& x) { return LReLU(conv(x), 0.2); }

SobelConvImpl::SobelConvImpl(int channels) {
  convx = register_module("convx", Conv(channels, channels, 3, false, channels));
  convy = register_module("convy", Conv(channels, channels, 3, false, channels));
  torch::NoGradGuard no_grad;
  auto kx = torch::tensor({1.f, 0.f, -1.f, 2.f, 0.f, -2.f, 1.f, 0.f, -1.f}).view({1, 1, 3, 3});
  convx->weight.copy_(kx.expand_as(convx->weight));
  convy->weight.copy_(kx.transpose(2, 3).expand_as(convy->weight));
}
torch::Tensor SobelConvImpl::forward(const torch::Tensor& x) { return convx(x).abs() + convy(x).abs(); }

DenseImpl::DenseImpl(int c) {
  conv1 = register_module("conv1", ConvLReLU(c, c));
  conv2 = register_module("conv2", ConvLReLU(2 * c, c));
}
torch::Tensor DenseImpl::forward(const torch::Tensor& x) {
  auto y = torch::cat({x, conv1(x)}, 1);
  return torch::cat({y, conv2(y)}, 1);
}

NestedConvImpl::NestedConvImpl(int in, int out, int kernel) { conv = register_module("conv", Conv(in, out, kernel)); }

GradientResidualDenseBlockImpl::GradientResidualDenseBlockImpl(int in, int out) {
  dense_ = register_module("dense", Dense(in));
  convdown_ = register_module("convdown", NestedConv(3 * in, out, 1));
  sobel_ = register_module("sobelconv", SobelConv(in));
  convup_ = register_module("convup", NestedConv(in, out, 1));
}
torch::Tensor GradientResidualDenseBlockImpl::forward(const torch::Tensor& x) {
  return LReLU(convdown_(dense_(x)) + convup_(sobel_(x)), 0.1);
}

Conv1x1ReLUImpl::Conv1x1ReLUImpl(int in, int out) { conv_ = register_module("0", Conv(in, out, 1, false)); }
torch::Tensor Conv1x1ReLUImpl::forward(const torch::Tensor& x) { return torch::relu(conv_(x)); }

DecoderStageImpl::DecoderStageImpl(int in, int out, bool last) : last_(last) {
  conv_ = register_module("conv", Conv(in, out, 3));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(out));
}
torch::Tensor DecoderStageImpl::forward(const torch::Tensor& x) {
  auto y = conv_(x);
  return last_ ? torch::tanh(y) / 2 + 0.5 : LReLU(y, 0.2);
}

FeatureExtractorImpl::FeatureExtractorImpl(const std::vector<int>& c, int out) {
  s0_ = register_module("0", ConvLReLU(3, c[0]));
  s1_ = register_module("1", GradientResidualDenseBlock(c[0], c[1]));
  s2_ = register_module("2", GradientResidualDenseBlock(c[1], c[2]));
  s3_ = register_module("3", ConvLReLU(c[2], c[3]));
  s4_ = register_module("4", ConvLReLU(c[3], out));
}
torch::Tensor FeatureExtractorImpl::forward(torch::Tensor x) { return s4_(s3_(s2_(s1_(s0_(x))))); }

ImageDecoderImpl::ImageDecoderImpl(int in, const std::vector<int>& c) {
  int prev = in;
  for (size_t i = 0; i <= c.size(); ++i) {
    const bool last = i == c.size();
    const int out = last ? 1 : c[i];
    stages_.push_back(register_module(std::to_string(i), DecoderStage(prev, out, last)));
    prev = out;
  }
}
torch::Tensor ImageDecoderImpl::forward(torch::Tensor x) {
  for (auto& s : stages_) x = s(x);
  return x;
}

UnusedDecoderIVImpl::UnusedDecoderIVImpl(int in, const std::vector<int>& c) {
  int prev = in;
  for (size_t i = 0; i <= c.size(); ++i) {
    const int out = i == c.size() ? 3 : c[i];
    register_module(std::to_string(2 * i), Conv(prev, out, 1, false));
    prev = out;
  }
}

}  // namespace ctrlfuse::model
