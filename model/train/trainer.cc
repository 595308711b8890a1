#include "model/train/trainer.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "model/checkpoint/checkpoint.h"

namespace ctrlfuse::model {
namespace {

// Optimizer state is keyed by the parameter's TensorImpl: as a string of the
// pointer in LibTorch 1.13 (c10::guts::to_string), as the pointer itself in
// 2.x. Derive the key from the map's own key type so both compile.
template <typename Map>
typename Map::key_type StateKey(const Map&, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << static_cast<const void*>(p.unsafeGetTensorImpl());
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

}  // namespace

Trainer::Trainer(CtrlFuseNet net, TrainOptions options, Vgg16Features vgg)
    : net_(std::move(net)), options_(options), vgg_(std::move(vgg)) {
  net_->train();
  net_->set_sam_trainable(options_.train_sam);
  std::vector<torch::Tensor> params;
  for (auto& p : net_->named_parameters(true)) {
    const bool is_sam = p.key().rfind("sam_model.", 0) == 0;
    bool frozen = is_sam && !options_.train_sam;
    for (const auto& prefix : options_.frozen_prefixes) frozen = frozen || p.key().rfind(prefix, 0) == 0;
    p.value().set_requires_grad(!frozen);
    if (p.value().requires_grad()) {
      trainable_.emplace_back(p.key(), p.value());
      params.push_back(p.value());
    }
  }
  optimizer_ = std::make_unique<torch::optim::Adam>(
      params, torch::optim::AdamOptions(options_.lr).weight_decay(options_.weight_decay));
}

double Trainer::CurrentLr() const {
  if (options_.lr_decay_every <= 0) return options_.lr;
  const double decays = std::floor(double(step_) / double(options_.lr_decay_every));
  return options_.lr * std::pow(options_.lr_decay, decays);
}

StepReport Trainer::Step(const TrainBatch& batch) {
  const double lr = CurrentLr();
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  optimizer_->zero_grad();
  auto out = net_->forward(batch.vis, batch.ir, batch.mask);
  auto terms = ComputeLosses(out, batch.vis, batch.ir, batch.mask, vgg_ ? &vgg_ : nullptr, options_.weights);
  terms.total.backward();
  optimizer_->step();
  ++step_;
  StepReport r;
  r.step = step_;
  r.lr = lr;
  r.total = terms.total.item<double>();
  r.fusion_ref = terms.fusion_ref.item<double>();
  r.fusion_fused = terms.fusion_fused.item<double>();
  r.pixel = terms.pixel.item<double>();
  r.segmentation = terms.segmentation.item<double>();
  r.perceptual = terms.perceptual.item<double>();
  return r;
}

SamPretrainer::SamPretrainer(CtrlFuseNet net, double lr, double weight_decay) : net_(std::move(net)) {
  net_->train();
  net_->set_sam_trainable(true);
  for (auto& p : net_->sam_model->parameters()) p.set_requires_grad(true);
  optimizer_ = std::make_unique<torch::optim::Adam>(net_->sam_model->parameters(),
                                                    torch::optim::AdamOptions(lr).weight_decay(weight_decay));
}

StepReport SamPretrainer::Step(const torch::Tensor& image, const torch::Tensor& boxes, const torch::Tensor& mask) {
  optimizer_->zero_grad();
  auto& sam = net_->sam_model;
  const double s = sam->config().img_size;
  auto embedding = net_->SamEmbedding(image);
  // Boxes follow the stretch to the square SAM input.
  auto scale =
      torch::tensor({s / image.size(3), s / image.size(2), s / image.size(3), s / image.size(2)}, boxes.options());
  sam::SparsePrompts prompts;
  prompts.boxes = boxes * scale;
  auto [sparse, dense] = sam->prompt_encoder->forward(prompts, image.size(0));
  auto pred = sam->mask_decoder(embedding, sam->prompt_encoder->DensePositionalEncoding(), sparse, dense, false);
  auto logits = torch::nn::functional::interpolate(pred.low_res_logits,
                                                   torch::nn::functional::InterpolateFuncOptions()
                                                       .size(std::vector<int64_t>{image.size(2), image.size(3)})
                                                       .mode(torch::kBilinear)
                                                       .align_corners(true));
  auto loss = SegmentationLoss(logits, mask);
  loss.backward();
  optimizer_->step();
  StepReport r;
  r.step = ++step_;
  r.segmentation = r.total = loss.item<double>();
  return r;
}

void Trainer::Save(const std::string& path) const {
  std::vector<std::pair<std::string, ckpt::PyPtr>> moments;
  auto& state = optimizer_->state();
  for (const auto& [name, p] : trainable_) {
    auto it = state.find(StateKey(state, p));
    if (it == state.end()) continue;  // never received a gradient (unused BatchNorms, image_decoder_iv)
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
    moments.emplace_back(name + ".exp_avg", ckpt::MakeTensor(s.exp_avg()));
    moments.emplace_back(name + ".exp_avg_sq", ckpt::MakeTensor(s.exp_avg_sq()));
    moments.emplace_back(name + ".step", ckpt::MakeInt(s.step()));
  }
  SaveCheckpoint(net_, path,
                 {{"step", ckpt::MakeInt(step_)},
                  {"train_sam", ckpt::MakeInt(options_.train_sam ? 1 : 0)},
                  {"optimizer", ckpt::MakeDict(std::move(moments))}});
}

void Trainer::Resume(const std::string& path) {
  auto file = LoadCheckpoint(net_, path);
  auto step = file->Get("step");
  auto moments = file->Get("optimizer");
  if (!step || !moments) throw std::runtime_error(path + ": not a training checkpoint (no step/optimizer)");
  step_ = step->i;
  auto& state = optimizer_->state();
  for (const auto& [name, p] : trainable_) {
    auto avg = moments->Get(name + ".exp_avg"), sq = moments->Get(name + ".exp_avg_sq"),
         n = moments->Get(name + ".step");
    if (!avg || !sq || !n) continue;
    auto s = std::make_unique<torch::optim::AdamParamState>();
    s->exp_avg(avg->tensor.clone());
    s->exp_avg_sq(sq->tensor.clone());
    s->step(n->i);
    state[StateKey(state, p)] = std::move(s);
  }
}

}  // namespace ctrlfuse::model
