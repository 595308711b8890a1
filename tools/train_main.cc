// ctrlfuse-train: trains a CtrlFuse configuration with the release's
// objective on folders in the release's layouts or on synthetic scenes.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <opencv2/imgproc.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/wxh.h"
#include "model/checkpoint/checkpoint.h"
#include "model/device.h"
#include "model/preprocess.h"
#include "model/train/trainer.h"
#include "tools/train_data.h"

ABSL_FLAG(std::string, config, "tiny", "Model configuration.");
ABSL_FLAG(std::string, data, "", "Training folder ({vi,ir,mask} or {Visible,Infrared,mask}); empty = synthetic.");
ABSL_FLAG(std::string, synthetic, "160x128", "Synthetic scene size WxH (when --data is empty).");
ABSL_FLAG(int64_t, steps, 1000, "Optimizer steps in total (a resumed run continues up to this).");
ABSL_FLAG(int, batch, 1, "Samples per step (the release: 1; all of a batch must share one size).");
ABSL_FLAG(double, lr, 1e-4, "Adam learning rate (the release: 1e-4).");
ABSL_FLAG(double, weight_decay, 1e-6, "Adam weight decay (the release: 1e-6).");
ABSL_FLAG(double, lr_decay, 0.5, "Step decay factor (the release: 0.5 every 20 epochs).");
ABSL_FLAG(int64_t, lr_decay_every, -1,
          "Steps between decays; -1 = 20 epochs of --data (constant for synthetic data), 0 = never.");
ABSL_FLAG(uint64_t, seed, 1, "Seed for the initial weights and the data order.");
ABSL_FLAG(std::string, out, "train-out", "Output folder: checkpoints, train_log.csv.");
ABSL_FLAG(int64_t, checkpoint_every, 200, "Write OUT/step_N.pth and OUT/last.pth every N steps.");
ABSL_FLAG(std::string, resume, "", "Continue exactly from a checkpoint this tool wrote.");
ABSL_FLAG(std::string, init, "", "Start from weights: own, official CtrlFuse, or official SAM checkpoint.");
ABSL_FLAG(std::string, vgg16, "", "torchvision VGG16 state_dict for the perceptual loss (optional).");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads (0 = all cores).");
ABSL_FLAG(std::string, synthetic_prompts, "instance",
          "Synthetic mask prompts: instance (one or two targets) or class (every target of one class).");
ABSL_FLAG(std::string, loss_weights, "",
          "Override term weights, e.g. pixel=3 or fusion_fused=0,pixel=0 (terms: fusion_ref, fusion_fused, pixel, "
          "segmentation, perceptual; the release: all 1), and fusion_gradient, the weight of the gradient part "
          "inside the fusion loss (the release: 10).");
ABSL_FLAG(std::string, sam, "auto",
          "SAM during training: auto (frozen when official weights are loaded with --init, as released; "
          "trains otherwise), train, or frozen.");
ABSL_FLAG(std::string, freeze, "",
          "Comma-separated state_dict name prefixes to keep fixed, e.g. "
          "feature_extractor1,feature_extractor2,merge_2c,image_decoder (a prefix matches whole module names).");
ABSL_FLAG(int64_t, sam_pretrain_steps, 0,
          "Without official SAM weights: first pretrain SAM this many steps on box prompts, then train "
          "CtrlFuse with SAM frozen, as the release does (0 = SAM trains jointly from scratch).");

namespace {
using namespace ctrlfuse;
namespace fs = std::filesystem;

torch::Tensor ToTensor(const cv::Mat& m) {  // HWC 8/16-bit -> [1,C,H,W] float (raw values)
  cv::Mat f;
  m.convertTo(f, CV_32F);
  auto t = torch::from_blob(f.data, {m.rows, m.cols, m.channels()}, torch::kFloat32).clone();
  return t.permute({2, 0, 1}).unsqueeze(0);
}

model::TrainBatch ToBatch(const std::vector<train::Sample>& samples) {
  std::vector<torch::Tensor> vis, ir, mask;
  for (const auto& s : samples) {
    // Grey as the release (and the engine) makes it: rounded levels, then scaled.
    auto v = ToTensor(s.visible);
    if (v.size(1) == 3) v = model::RoundedGreyCounts(v);
    vis.push_back((v / (s.visible.depth() == CV_16U ? 65535.0 : 255.0)).expand({1, 3, -1, -1}));
    auto i = ToTensor(s.infrared);
    if (i.size(1) == 3) i = model::RoundedGreyCounts(i);
    auto plane = model::NormalizeInfrared(i[0][0], s.infrared.depth() == CV_16U ? 16 : 8, {});
    ir.push_back(plane.unsqueeze(0).unsqueeze(0).expand({1, 3, -1, -1}));
    mask.push_back(ToTensor(s.mask) / 255.0);
  }
  return {model::PadToEven(torch::cat(vis)), model::PadToEven(torch::cat(ir)), model::PadToEven(torch::cat(mask))};
}

// "name=value,name=value" onto the release's weights.
bool ParseLossWeights(const std::string& text, model::LossWeights* w, std::string* error) {
  if (text.empty()) return true;
  std::map<std::string, double*> slots = {{"fusion_ref", &w->fusion_ref}, {"fusion_fused", &w->fusion_fused},
                                          {"pixel", &w->pixel},           {"segmentation", &w->segmentation},
                                          {"perceptual", &w->perceptual}, {"fusion_gradient", &w->fusion_gradient}};
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    double v = 0;
    auto slot = slots.find(kv.first);
    if (slot == slots.end() || !absl::SimpleAtod(kv.second, &v) || v < 0) {
      *error = "--loss_weights: bad entry '" + std::string(item) + "' (want TERM=non-negative number)";
      return false;
    }
    *slot->second = v;
  }
  return true;
}

int Fail(const std::string& msg) {
  std::cerr << "ctrlfuse-train: " << msg << std::endl;
  return 1;
}

absl::StatusOr<std::unique_ptr<train::DataSource>> OpenData() {
  if (!absl::GetFlag(FLAGS_data).empty()) return train::OpenFolder(absl::GetFlag(FLAGS_data));
  auto size = common::ParseWxH(absl::GetFlag(FLAGS_synthetic), "synthetic", /*min_side=*/16);
  if (!size.ok()) return size.status();
  const std::string prompts = absl::GetFlag(FLAGS_synthetic_prompts);
  if (prompts != "instance" && prompts != "class")
    return absl::InvalidArgumentError("--synthetic_prompts must be instance or class");
  return train::Synthetic(size->width, size->height,
                          prompts == "class" ? train::SyntheticPrompt::kClass : train::SyntheticPrompt::kInstance);
}

// The optimiser, loss and SAM-regime flags; loads --init into `net` (which
// decides whether SAM trains, as the release does).
absl::StatusOr<model::TrainOptions> OptionsFromFlags(model::CtrlFuseNet& net, const train::DataSource& data,
                                                     int batch) {
  model::TrainOptions options;
  options.lr = absl::GetFlag(FLAGS_lr);
  options.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  options.lr_decay = absl::GetFlag(FLAGS_lr_decay);
  if (std::string error; !ParseLossWeights(absl::GetFlag(FLAGS_loss_weights), &options.weights, &error))
    return absl::InvalidArgumentError(error);
  const std::string sam_mode = absl::GetFlag(FLAGS_sam);
  if (sam_mode != "auto" && sam_mode != "train" && sam_mode != "frozen")
    return absl::InvalidArgumentError("--sam must be auto, train or frozen");
  const int64_t every = absl::GetFlag(FLAGS_lr_decay_every);
  options.lr_decay_every = every >= 0 ? every : (data.size() > 0 ? 20 * ((data.size() + batch - 1) / batch) : 0);
  // SAM stays frozen (as released) only when real SAM weights are loaded.
  options.train_sam = true;
  if (!absl::GetFlag(FLAGS_init).empty()) {
    try {
      const std::string kind = model::LoadAnyCheckpoint(net, absl::GetFlag(FLAGS_init));
      options.train_sam = kind == "ctrlfuse-serve";
      std::cerr << "ctrlfuse-train: initialised from " << kind << " weights" << std::endl;
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
  }
  if (sam_mode != "auto") options.train_sam = sam_mode == "train";
  for (absl::string_view prefix : absl::StrSplit(absl::GetFlag(FLAGS_freeze), ',', absl::SkipEmpty()))
    options.frozen_prefixes.push_back(std::string(prefix) + ".");
  return options;
}

absl::StatusOr<model::Vgg16Features> LoadVgg() {
  if (absl::GetFlag(FLAGS_vgg16).empty()) {
    std::cerr << "ctrlfuse-train: no --vgg16 weights: the perceptual loss is left out" << std::endl;
    return model::Vgg16Features{nullptr};
  }
  model::Vgg16Features vgg;
  try {
    vgg->LoadTorchvision(absl::GetFlag(FLAGS_vgg16));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return vgg;
}

// Without official SAM weights (--sam_pretrain_steps): SAM first learns box
// prompts on its own, then stays frozen (unless --sam=train), as the release
// trains it.
absl::Status PretrainSam(model::CtrlFuseNet& net, train::DataSource& data, const fs::path& out, uint64_t seed,
                         model::TrainOptions& options) {
  const int64_t sam_steps = absl::GetFlag(FLAGS_sam_pretrain_steps);
  model::SamPretrainer sam(net, options.lr, options.weight_decay);
  std::ofstream sam_log(out / "sam_pretrain_log.csv");
  sam_log << "step,segmentation\n";
  for (int64_t step = 0; step < sam_steps; ++step) {
    auto s = data.Get(seed + 7777, train::SampleIndex(seed + 7777, step, 1, 0, data.size()));
    if (!s.ok()) return s.status();
    const cv::Rect box = cv::boundingRect(s->mask);
    if (box.area() == 0) continue;
    auto b = ToBatch({*s});
    // What SAM sees in CtrlFuse is I_ref, which the fusion loss drives
    // towards max(visible, infrared).
    auto image = torch::max(b.vis.slice(1, 0, 1), b.ir.slice(1, 0, 1));
    auto boxes =
        torch::tensor({float(box.x), float(box.y), float(box.x + box.width), float(box.y + box.height)}).view({1, 4});
    auto r = sam.Step(image, boxes, b.mask);
    sam_log << r.step << "," << r.segmentation << "\n";
    if (r.step % 100 == 0 || r.step == sam_steps)
      std::cerr << absl::StrFormat("sam pretrain step %d/%d seg %.4f\n", r.step, sam_steps, r.segmentation);
  }
  model::SaveCheckpoint(net, (out / "sam_pretrained.pth").string());
  options.train_sam = absl::GetFlag(FLAGS_sam) == "train";
  return absl::OkStatus();
}

// Steps until --steps: the log (train_log.csv), progress on stderr, and
// checkpoints every --checkpoint_every steps.
absl::Status TrainLoop(model::Trainer& trainer, train::DataSource& data, int batch, uint64_t seed,
                       const fs::path& out) {
  const bool fresh_log = trainer.step() == 0 || !fs::exists(out / "train_log.csv");
  std::ofstream log(out / "train_log.csv", fresh_log ? std::ios::trunc : std::ios::app);
  if (fresh_log) log << "step,lr,total,fusion_ref,fusion_fused,pixel,segmentation,perceptual,seconds\n";
  const int64_t steps = absl::GetFlag(FLAGS_steps), every_ckpt = absl::GetFlag(FLAGS_checkpoint_every);
  const bool tty = isatty(fileno(stderr));
  const auto start = std::chrono::steady_clock::now();
  const int64_t first = trainer.step();
  while (trainer.step() < steps) {
    std::vector<train::Sample> samples;
    for (int k = 0; k < batch; ++k) {
      auto s = data.Get(seed, train::SampleIndex(seed, trainer.step(), batch, k, data.size()));
      if (!s.ok()) return s.status();
      if (!samples.empty() && s->infrared.size() != samples[0].infrared.size())
        return absl::InvalidArgumentError("a batch mixes image sizes (" + s->name +
                                          "); use --batch 1 for native sizes");
      samples.push_back(std::move(*s));
    }
    model::StepReport r;
    try {
      r = trainer.Step(ToBatch(samples));
    } catch (const std::exception& e) {
      return absl::InternalError(std::string("step failed: ") + e.what());
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log << absl::StrFormat("%d,%g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f\n", r.step, r.lr, r.total, r.fusion_ref,
                           r.fusion_fused, r.pixel, r.segmentation, r.perceptual, elapsed);
    const double rate = (r.step - first) / std::max(elapsed, 1e-9);
    const std::string line = absl::StrFormat(
        "step %d/%d loss %.4f (fusion %.3f+%.3f pixel %.3f seg %.3f) %.2f steps/s ETA %.0fs", r.step, steps, r.total,
        r.fusion_ref, r.fusion_fused, r.pixel, r.segmentation, rate, (steps - r.step) / std::max(rate, 1e-9));
    if (tty) {
      std::cerr << "\r" << line << std::flush;
    } else if (r.step % 50 == 0 || r.step == steps) {
      std::cerr << line << std::endl;
    }
    if ((every_ckpt > 0 && r.step % every_ckpt == 0) || r.step == steps) {
      log.flush();
      trainer.Save((out / absl::StrFormat("step_%d.pth", r.step)).string());
      trainer.Save((out / "last.pth").string());
    }
  }
  if (tty) std::cerr << std::endl;
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ctrlfuse-train [--config tiny] [--data DIR | --synthetic 160x128] --steps N --out DIR [--resume FILE]\n"
      "Trains with the release's losses: fusion (I_ref and fused), pixel, segmentation, perceptual (with --vgg16).");
  absl::ParseCommandLine(argc, argv);
  model::ModelConfig config;
  if (!model::FindConfig(absl::GetFlag(FLAGS_config), &config)) return Fail("unknown --config");
  model::ConfigureThreads(absl::GetFlag(FLAGS_threads));
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));
  auto data = OpenData();
  if (!data.ok()) return Fail(std::string(data.status().message()));

  torch::manual_seed(seed);
  model::CtrlFuseNet net(config);
  auto options = OptionsFromFlags(net, **data, batch);
  if (!options.ok()) return Fail(std::string(options.status().message()));
  std::cerr << "ctrlfuse-train: SAM " << (options->train_sam ? "trains" : "frozen") << std::endl;
  auto vgg = LoadVgg();
  if (!vgg.ok()) return Fail(std::string(vgg.status().message()));
  const fs::path out = absl::GetFlag(FLAGS_out);
  fs::create_directories(out);
  const std::string resume = absl::GetFlag(FLAGS_resume);
  if (!resume.empty()) {
    // A resumed run keeps the SAM regime it was saved with.
    try {
      auto file = model::ckpt::ReadTorchFile(resume);
      if (auto t = file->Get("train_sam")) options->train_sam = t->i != 0;
    } catch (const std::exception& e) {
      return Fail(e.what());
    }
  } else if (absl::GetFlag(FLAGS_sam_pretrain_steps) > 0 && options->train_sam) {
    if (auto s = PretrainSam(net, **data, out, seed, *options); !s.ok()) return Fail(std::string(s.message()));
  }
  model::Trainer trainer(net, *options, *vgg);
  if (!resume.empty()) {
    try {
      trainer.Resume(resume);
    } catch (const std::exception& e) {
      return Fail(e.what());
    }
    std::cerr << "ctrlfuse-train: resumed at step " << trainer.step() << std::endl;
  }
  if (auto s = TrainLoop(trainer, **data, batch, seed, out); !s.ok()) return Fail(std::string(s.message()));
  trainer.Save((out / "final.pth").string());
  std::cout << "trained " << config.name << " to step " << trainer.step() << "; checkpoint "
            << (out / "final.pth").string() << std::endl;
  return 0;
}
