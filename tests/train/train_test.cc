// Training: each loss term against a hand computation, a few steps on a
// fixed batch lower the loss, a resumed run's next step equals an
// uninterrupted run's, the folder loader's pairing errors, VGG16 loading.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "image/scenes.h"
#include "model/checkpoint/checkpoint.h"
#include "model/train/losses.h"
#include "model/train/trainer.h"
#include "tools/train_data.h"

namespace ctrlfuse::model {
namespace {
namespace fs = std::filesystem;

TEST(LossTest, SobelOfAnImpulseIsTheKernelMagnitudes) {
  auto x = torch::zeros({1, 1, 3, 3});
  x[0][0][1][1] = 1;
  auto g = SobelGradient(x)[0][0];
  auto want = torch::tensor({2.f, 2.f, 2.f, 2.f, 0.f, 2.f, 2.f, 2.f, 2.f}).view({3, 3});
  EXPECT_TRUE(torch::equal(g, want)) << g;
}

TEST(LossTest, FusionLossByHand) {
  // out = 0, vis = 0.5, ir = 0.2 on 2x2: intensity |0 - 0.5| = 0.5; with zero
  // padding a constant c has |gx| = |gy| = 3c at every pixel of a 2x2, so
  // grad(vis) = 3 > grad(ir) = 1.2, grad(out) = 0: 0.5 + 10 * 3 = 30.5.
  auto out = torch::zeros({1, 1, 2, 2});
  auto vis = torch::full({1, 3, 2, 2}, 0.5), ir = torch::full({1, 3, 2, 2}, 0.2);
  EXPECT_NEAR(FusionLoss(out, vis, ir).item<double>(), 30.5, 1e-5);
  // A gradient weight of 1 instead of the release's 10: 0.5 + 3.
  EXPECT_NEAR(FusionLoss(out, vis, ir, 1).item<double>(), 3.5, 1e-5);
}

TEST(LossTest, PixelLossByHand) {
  // fused 0.4, vis 0.5, ir 0.2, mask on half: 0.5*|0.4-0.5| + 0.5*|0.4-0.35|.
  auto fused = torch::full({1, 1, 2, 2}, 0.4), vis = torch::full({1, 3, 2, 2}, 0.5),
       ir = torch::full({1, 3, 2, 2}, 0.2);
  auto mask = torch::tensor({1.f, 1.f, 0.f, 0.f}).view({1, 1, 2, 2});
  EXPECT_NEAR(PixelLoss(fused, vis, ir, mask).item<double>(), 0.075, 1e-6);
}

TEST(LossTest, SegmentationLossByHand) {
  // logits 0 (p = 0.5), target 1: BCE = ln 2; Dice = 1 - (2*1 + 1)/(1 + 2 + 1) = 0.25.
  auto logits = torch::zeros({1, 1, 1, 2}), mask = torch::ones({1, 1, 1, 2});
  EXPECT_NEAR(SegmentationLoss(logits, mask).item<double>(), std::log(2.0) + 0.25, 1e-6);
}

TEST(LossTest, WeightsScaleEachTermOfTheTotal) {
  torch::manual_seed(3);
  CtrlFuseNet net(TinyConfig());
  auto vis = torch::rand({1, 3, 32, 32}), ir = torch::rand({1, 3, 32, 32});
  auto mask = (ir.slice(1, 0, 1) > 0.7).to(torch::kFloat32);
  torch::NoGradGuard no_grad;
  auto out = net->forward(vis, ir, mask);
  auto release = ComputeLosses(out, vis, ir, mask, nullptr);
  LossWeights w;
  w.fusion_fused = 0;
  w.pixel = 3;
  w.segmentation = 0.5;
  auto weighted = ComputeLosses(out, vis, ir, mask, nullptr, w);
  // The terms are the same; only the total changes.
  EXPECT_EQ(weighted.pixel.item<double>(), release.pixel.item<double>());
  const double want =
      release.fusion_ref.item<double>() + 3 * release.pixel.item<double>() + 0.5 * release.segmentation.item<double>();
  EXPECT_NEAR(weighted.total.item<double>(), want, 1e-5 * want);
  EXPECT_NEAR(release.total.item<double>(),
              (release.fusion_ref + release.fusion_fused + release.pixel + release.segmentation).item<double>(), 1e-5);
}

TrainBatch FixedBatch(int64_t b = 1) {
  torch::manual_seed(5);
  auto ir = torch::zeros({b, 1, 32, 32});
  ir.slice(2, 8, 20).slice(3, 10, 18).fill_(0.9);  // a warm target
  auto vis = torch::rand({b, 1, 32, 32}) * 0.5;
  auto mask = (ir > 0.5).to(torch::kFloat32);
  return {vis.expand({b, 3, 32, 32}).contiguous(), ir.expand({b, 3, 32, 32}).contiguous(), mask};
}

TEST(TrainerTest, AFewStepsOnAFixedBatchLowerTheLoss) {
  torch::manual_seed(1);
  TrainOptions o;
  o.lr = 1e-3;
  o.train_sam = true;
  Trainer t(CtrlFuseNet(TinyConfig()), o);
  auto batch = FixedBatch();
  const double first = t.Step(batch).total;
  double last = first;
  for (int i = 0; i < 14; ++i) last = t.Step(batch).total;
  EXPECT_LT(last, 0.8 * first) << first << " -> " << last;
  EXPECT_EQ(t.step(), 15);
}

TEST(TrainerTest, StepDecayFollowsTheSchedule) {
  TrainOptions o;
  o.lr = 1e-3;
  o.lr_decay = 0.5;
  o.lr_decay_every = 2;
  torch::manual_seed(1);
  Trainer t(CtrlFuseNet(TinyConfig()), o);
  auto batch = FixedBatch();
  EXPECT_DOUBLE_EQ(t.Step(batch).lr, 1e-3);
  EXPECT_DOUBLE_EQ(t.Step(batch).lr, 1e-3);
  EXPECT_DOUBLE_EQ(t.Step(batch).lr, 5e-4);
}

TEST(TrainerTest, ResumedRunEqualsAnUninterruptedOne) {
  const std::string ckpt = ::testing::TempDir() + "/resume_" + std::to_string(getpid()) + ".pth";
  TrainOptions o;
  o.lr = 1e-3;
  o.train_sam = true;
  auto batch = FixedBatch();
  torch::manual_seed(1);
  Trainer a(CtrlFuseNet(TinyConfig()), o);
  a.Step(batch);
  a.Step(batch);
  a.Save(ckpt);
  const auto next = a.Step(batch);

  torch::manual_seed(99);  // different initial weights: everything must come from the file
  Trainer b(CtrlFuseNet(TinyConfig()), o);
  b.Resume(ckpt);
  EXPECT_EQ(b.step(), 2);
  const auto resumed = b.Step(batch);
  EXPECT_EQ(resumed.total, next.total);
  auto pa = StateDict(*a.net()), pb = StateDict(*b.net());
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first;
  std::remove(ckpt.c_str());
}

TEST(TrainerTest, FrozenSamIsNotTrained) {
  TrainOptions o;
  o.lr = 1e-2;
  o.train_sam = false;
  torch::manual_seed(1);
  Trainer t(CtrlFuseNet(TinyConfig()), o);
  auto before = t.net()->sam_model->named_parameters()["mask_decoder.iou_token.weight"].clone();
  auto merge = t.net()->named_parameters()["merge_v.0.weight"].clone();
  t.Step(FixedBatch());
  EXPECT_TRUE(torch::equal(t.net()->sam_model->named_parameters()["mask_decoder.iou_token.weight"], before));
  EXPECT_FALSE(torch::equal(t.net()->named_parameters()["merge_v.0.weight"], merge));
}

TEST(TrainerTest, FrozenPrefixesAreNotTrainedAndTheRestIs) {
  TrainOptions o;
  o.lr = 1e-2;
  o.train_sam = true;
  o.frozen_prefixes = {"feature_extractor1.", "image_decoder."};
  torch::manual_seed(1);
  Trainer t(CtrlFuseNet(TinyConfig()), o);
  auto params = [&] { return t.net()->named_parameters(); };
  const std::vector<std::string> frozen = {"feature_extractor1.0.conv.weight", "image_decoder.4.conv.weight"};
  const std::vector<std::string> trained = {"feature_extractor2.0.conv.weight", "merge_v.0.weight",
                                            "sam_model.mask_decoder.iou_token.weight"};
  std::map<std::string, torch::Tensor> before;
  for (const auto& n : frozen) before[n] = params()[n].clone();
  for (const auto& n : trained) before[n] = params()[n].clone();
  t.Step(FixedBatch());
  for (const auto& n : frozen) EXPECT_TRUE(torch::equal(params()[n], before[n])) << n;
  for (const auto& n : trained) EXPECT_FALSE(torch::equal(params()[n], before[n])) << n;
  // "image_decoder." names a module, not every name that starts with it.
  EXPECT_TRUE(params()["image_decoder_iv.0.weight"].requires_grad());
}

TEST(TrainerTest, SamPretrainingOnBoxPromptsLowersItsLoss) {
  torch::manual_seed(2);
  CtrlFuseNet net(TinyConfig());
  SamPretrainer sam(net, 1e-3, 0);
  auto b = FixedBatch();
  auto image = torch::max(b.vis.slice(1, 0, 1), b.ir.slice(1, 0, 1));
  auto box = torch::tensor({10.f, 8.f, 18.f, 20.f}).view({1, 4});  // the warm target's box
  const double first = sam.Step(image, box, b.mask).segmentation;
  double last = first;
  for (int i = 0; i < 19; ++i) last = sam.Step(image, box, b.mask).segmentation;
  EXPECT_LT(last, 0.95 * first) << first << " -> " << last;
}

void WritePng(const fs::path& p, int value) {
  cv::Mat m(8, 8, CV_8UC1, cv::Scalar(value));
  ASSERT_TRUE(cv::imwrite(p.string(), m));
}

TEST(TrainDataTest, PairsByNameAndNamesMismatchedFiles) {
  const fs::path root = fs::path(::testing::TempDir()) / ("data_" + std::to_string(getpid()));
  for (const char* d : {"Visible", "Infrared", "mask"}) fs::create_directories(root / d);
  // Names whose sort order differs from creation order; values encode the name.
  WritePng(root / "Visible" / "b.png", 20);
  WritePng(root / "Infrared" / "b.png", 21);
  WritePng(root / "mask" / "b.png", 255);
  WritePng(root / "Visible" / "a.png", 10);
  WritePng(root / "Infrared" / "a.png", 11);
  WritePng(root / "mask" / "a.png", 255);
  auto data = train::OpenFolder(root.string());
  ASSERT_TRUE(data.ok()) << data.status();
  for (int64_t i = 0; i < 2; ++i) {
    auto s = (*data)->Get(0, i);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->infrared.at<uint8_t>(0, 0), s->visible.at<uint8_t>(0, 0) + 1) << s->name;
  }
  WritePng(root / "Visible" / "c.png", 30);
  WritePng(root / "mask" / "d.png", 30);
  auto bad = train::OpenFolder(root.string());
  ASSERT_FALSE(bad.ok());
  const std::string msg(bad.status().message());
  EXPECT_NE(msg.find("Visible/ has 1 without a pair: c.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mask/ has 1 without a pair: d.png"), std::string::npos) << msg;
  fs::remove_all(root);
  EXPECT_FALSE(train::OpenFolder(root.string()).ok());
}

TEST(TrainDataTest, SyntheticSamplingIsAFunctionOfSeedAndStep) {
  auto data = train::Synthetic(64, 48);
  auto a = data->Get(3, train::SampleIndex(3, 10, 2, 1, data->size()));
  auto b = data->Get(3, train::SampleIndex(3, 10, 2, 1, data->size()));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(cv::norm(a->visible, b->visible, cv::NORM_INF), 0);
  EXPECT_GT(cv::countNonZero(a->mask), 0);
  // A bounded source visits every sample once per epoch.
  std::set<int64_t> seen;
  for (int64_t step = 0; step < 5; ++step) seen.insert(train::SampleIndex(7, step, 1, 0, 5));
  EXPECT_EQ(seen.size(), 5u);
}

TEST(TrainDataTest, ClassPromptsCoverEveryTargetOfOneClass) {
  auto data = train::Synthetic(160, 120, train::SyntheticPrompt::kClass);
  int checked = 0;
  for (int64_t i = 0; i < 12; ++i) {
    auto s = data->Get(4, i);
    ASSERT_TRUE(s.ok());
    // The same scene the source draws, to know its targets.
    auto scene = image::GenerateScene(image::SceneOptionsFor(4, int(i), 160, 120, 8));
    if (scene.targets.empty()) continue;
    std::string label;
    for (const auto& t : scene.targets)
      if (cv::countNonZero(t.mask & s->mask) > 0) label = t.label;
    ASSERT_FALSE(label.empty()) << i;
    cv::Mat want = cv::Mat::zeros(s->mask.size(), CV_8UC1);
    for (const auto& t : scene.targets)
      if (t.label == label) want |= t.mask;
    EXPECT_EQ(cv::norm(want, s->mask, cv::NORM_INF), 0) << "scene " << i << " class " << label;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(Vgg16Test, LoadsTorchvisionLayoutAndGivesZeroForIdenticalImages) {
  const std::string dir = ::testing::TempDir();
  const std::string file = dir + "/vgg16_" + std::to_string(getpid()) + ".pth";
  // torchvision's vgg16 state_dict layout (features up to conv5_3 and the
  // classifier, which the perceptual loss does not use), random values.
  const std::string py = std::string(CTRLFUSE_PYTHON) +
                         " -c \"import torch, collections\n"
                         "sd = collections.OrderedDict()\n"
                         "chans = [(3,64),(64,64),None,(64,128),(128,128),None,(128,256),(256,256),(256,256),None,"
                         "(256,512),(512,512),(512,512),None,(512,512),(512,512),(512,512)]\n"
                         "i = 0\n"
                         "for c in chans:\n"
                         "  if c is None:\n    i += 1; continue\n"
                         "  sd['features.%d.weight' % i] = torch.randn(c[1], c[0], 3, 3) * 0.05\n"
                         "  sd['features.%d.bias' % i] = torch.zeros(c[1]); i += 2\n"
                         "sd['classifier.0.weight'] = torch.zeros(4, 4)\n"
                         "torch.save(sd, '" +
                         file + "')\"";
  ASSERT_EQ(std::system(py.c_str()), 0);
  Vgg16Features vgg;
  vgg->LoadTorchvision(file);
  auto x = torch::rand({1, 1, 32, 32}), y = torch::rand({1, 1, 32, 32});
  EXPECT_EQ(PerceptualLoss(vgg, x, x).item<double>(), 0.0);
  EXPECT_GT(PerceptualLoss(vgg, x, y).item<double>(), 0.0);
  for (const auto& p : vgg->parameters()) EXPECT_FALSE(p.requires_grad());
  std::remove(file.c_str());
}

}  // namespace
}  // namespace ctrlfuse::model
