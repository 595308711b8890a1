// VGG16's convolutional part with torchvision's names (`features.N.*`), for
// the perceptual loss. Weights come from a torchvision VGG16 state_dict
// file (they cannot be downloaded here; the loss is optional).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace ctrlfuse::model {

class Vgg16FeaturesImpl : public torch::nn::Module {
 public:
  Vgg16FeaturesImpl();
  // Activations after relu1_2, relu2_2, relu3_3, relu4_3.
  std::vector<torch::Tensor> forward(torch::Tensor x);
  // Loads `features.*` from a torchvision state_dict file (classifier.* is
  // ignored) and freezes the weights.
  void LoadTorchvision(const std::string& path);

 private:
  std::vector<std::pair<int, torch::nn::Conv2d>> convs_;  // (index in features, conv)
};
TORCH_MODULE(Vgg16Features);

}  // namespace ctrlfuse::model
