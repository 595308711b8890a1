#include "model/train/vgg16.h"

#include <set>

#include "model/checkpoint/checkpoint.h"

namespace ctrlfuse::model {

namespace {
// torchvision's vgg16 "D" layout: channels per conv, 0 = max pool.
const int kLayout[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512};
// features indices right after relu1_2, relu2_2, relu3_3, relu4_3.
const int kTaps[] = {3, 8, 15, 22};
}  // namespace

Vgg16FeaturesImpl::Vgg16FeaturesImpl() {
  // Children are named by their index in torchvision's `features`
  // Sequential (the ReLU and pool entries between them hold no weights).
  auto features = std::make_shared<torch::nn::Module>();
  int in = 3, index = 0;
  for (int c : kLayout) {
    if (c == 0) {
      index += 1;  // pool
      continue;
    }
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(in, c, 3).padding(1));
    features->register_module(std::to_string(index), conv);
    convs_.emplace_back(index, conv);
    in = c;
    index += 2;  // conv + relu
  }
  register_module("features", features);
}

std::vector<torch::Tensor> Vgg16FeaturesImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> taps;
  size_t next_tap = 0, k = 0;
  int index = 0;
  for (int c : kLayout) {
    if (c == 0) {
      x = torch::max_pool2d(x, 2, 2);
      index += 1;
      continue;
    }
    x = torch::relu(convs_[k++].second(x));
    index += 2;
    if (next_tap < 4 && index - 1 == kTaps[next_tap]) {
      taps.push_back(x);
      if (++next_tap == 4) break;
    }
  }
  return taps;
}

void Vgg16FeaturesImpl::LoadTorchvision(const std::string& path) {
  auto file = ckpt::ReadTorchFile(path);
  // Only the layers up to conv4_3 are used: take those names, still
  // strictly (a missing or mis-shaped one fails).
  std::set<std::string> used;
  for (const auto& [k, v] : StateDict(*this)) used.insert(k);
  NamedTensors entries;
  for (const auto& [k, v] : file->dict)
    if (used.count(k->s) && v->kind == ckpt::PyValue::Kind::kTensor) entries.emplace_back(k->s, v->tensor);
  LoadStateDict(*this, entries, path);
  for (auto& p : parameters()) p.set_requires_grad(false);
}

}  // namespace ctrlfuse::model
