// Convolutional building blocks of the CtrlFuse release, named as its
// state_dict names them (`conv`, `bn`, `dense.conv1`, `sobelconv.convx`, ...).
#pragma once

#include <torch/torch.h>

namespace ctrlfuse::model {

// conv 3x3 pad 1 + LeakyReLU(0.2); parameters under `conv`.
class ConvLReLUImpl : public torch::nn::Module {
 public:
  ConvLReLUImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(ConvLReLU);

// A bare convolution nested one level down (`<name>.conv`), as the release
// wraps its 1x1 convolutions.
class NestedConvImpl : public torch::nn::Module {
 public:
  NestedConvImpl(int in, int out, int kernel);
  torch::Tensor forward(const torch::Tensor& x) { return conv(x); }
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(NestedConv);

// Depthwise Sobel filters (trainable, initialised to Sobel), |gx| + |gy|.
class SobelConvImpl : public torch::nn::Module {
 public:
  explicit SobelConvImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d convx{nullptr}, convy{nullptr};
};
TORCH_MODULE(SobelConv);

// Two densely connected conv layers: x -> cat[x, c1(x), c2(cat[x, c1(x)])].
class DenseImpl : public torch::nn::Module {
 public:
  explicit DenseImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);
  ConvLReLU conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(Dense);

// Gradient residual dense block: LReLU(0.1)(convdown(dense(x)) + convup(sobel(x))).
class GradientResidualDenseBlockImpl : public torch::nn::Module {
 public:
  GradientResidualDenseBlockImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Dense dense_{nullptr};
  NestedConv convdown_{nullptr}, convup_{nullptr};
  SobelConv sobel_{nullptr};
};
TORCH_MODULE(GradientResidualDenseBlock);

// A bias-free 1x1 convolution followed by ReLU, stored as a Sequential (`0`).
class Conv1x1ReLUImpl : public torch::nn::Module {
 public:
  Conv1x1ReLUImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Conv1x1ReLU);

// One stage of the image decoder: conv 3x3 (+ an unused BatchNorm the release
// carries in its checkpoints) + LReLU(0.2), or tanh(x)/2 + 0.5 for the last.
class DecoderStageImpl : public torch::nn::Module {
 public:
  DecoderStageImpl(int in, int out, bool last);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  bool last_;
};
TORCH_MODULE(DecoderStage);

// Five-stage feature extractor (`feature_extractor1` / `feature_extractor2`).
class FeatureExtractorImpl : public torch::nn::Module {
 public:
  FeatureExtractorImpl(const std::vector<int>& channels, int out);
  torch::Tensor forward(torch::Tensor x);

 private:
  ConvLReLU s0_{nullptr}, s3_{nullptr}, s4_{nullptr};
  GradientResidualDenseBlock s1_{nullptr}, s2_{nullptr};
};
TORCH_MODULE(FeatureExtractor);

// The shared image decoder: features -> one channel in (0, 1).
class ImageDecoderImpl : public torch::nn::Module {
 public:
  ImageDecoderImpl(int in, const std::vector<int>& channels);
  torch::Tensor forward(torch::Tensor x);

 private:
  std::vector<DecoderStage> stages_;
};
TORCH_MODULE(ImageDecoder);

// `image_decoder_iv`: 1x1 convolutions the release defines but never calls.
// Kept so its checkpoint keys load strictly; it has no forward.
class UnusedDecoderIVImpl : public torch::nn::Module {
 public:
  UnusedDecoderIVImpl(int in, const std::vector<int>& channels);
};
TORCH_MODULE(UnusedDecoderIV);

}  // namespace ctrlfuse::model
