// The bundled demo model (models/tiny-demo.pth) through the engine, the
// server's path into the model, on held-out synthetic scenes (seed 1000,
// never trained on): a person prompt and a car prompt on the same pair.
// Its infrared branch must segment the prompted class and not the other,
// and each target must stand out more in the fused image when it is the
// one prompted. Fails if the prompt stops reaching SAM (e.g. a mask that
// never arrives, or tokens that no longer carry it) or if the shipped
// weights are swapped for ones that ignore it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "image/image_data.h"
#include "image/scenes.h"
#include "model/api/fusion_engine.h"
#include "quality/prompt_measures.h"

namespace ctrlfuse {
namespace {

struct Prompted {
  cv::Mat fused, mask_ir;
};

TEST(BundledModelTest, ThePromptedClassIsSegmentedAndStandsOut) {
  api::EngineOptions eo;
  eo.checkpoint = CTRLFUSE_BUNDLED_MODEL;
  auto engine = api::FusionEngine::Create(eo);
  ASSERT_TRUE(engine.ok()) << engine.status();
  int scenes = 0;
  for (int i = 0; i < 40 && scenes < 3; ++i) {
    const auto scene = image::GenerateScene(image::SceneOptionsFor(1000, i, 320, 240, 8));
    int person = -1, car = -1;
    for (size_t k = 0; k < scene.targets.size(); ++k) {
      int& slot = scene.targets[k].label == "person" ? person : car;
      if (slot < 0) slot = int(k);
    }
    if (person < 0 || car < 0) continue;
    // A person in front of the car is one warm blob to a 32x32 SAM grid:
    // use pairs that are apart (a few pixels at least).
    if (!quality::Apart(scene.targets[size_t(person)].mask, scene.targets[size_t(car)].mask)) continue;
    ++scenes;
    auto ir = image::ToImageData(scene.infrared), vis = image::ToImageData(scene.visible);
    auto enc = (*engine)->Encode({{&ir, &vis, {}}});
    ASSERT_TRUE(enc.ok()) << enc.status();
    auto run = [&](int k) {
      const cv::Mat& m = scene.targets[size_t(k)].mask;
      auto out = (*engine)->Decode({{(*enc)[0],
                                     std::vector<uint8_t>(m.data, m.data + m.total()),
                                     {api::Output::kFused, api::Output::kMaskInfrared}}});
      if (!out.ok()) {
        ADD_FAILURE() << out.status();
        return Prompted{cv::Mat::zeros(m.size(), CV_8UC1), cv::Mat::zeros(m.size(), CV_8UC1)};
      }
      auto& r = (*out)[0];
      return Prompted{cv::Mat(m.rows, m.cols, CV_8UC1, r.fused.data()).clone(),
                      cv::Mat(m.rows, m.cols, CV_8UC1, r.mask_ir.data()).clone()};
    };
    const Prompted a = run(person), b = run(car);
    const cv::Mat all = scene.AllTargets(), &p = scene.targets[size_t(person)].mask,
                  &c = scene.targets[size_t(car)].mask;
    SCOPED_TRACE("scene " + std::to_string(i));
    // Measured on the 40 held-out scenes: the infrared branch covers 94 % of
    // the prompted target and 3-5 % of the other class (docs/training.md).
    EXPECT_GT(quality::Coverage(a.mask_ir, p), 0.7);
    EXPECT_LT(quality::Coverage(a.mask_ir, c), 0.2);
    EXPECT_GT(quality::Coverage(b.mask_ir, c), 0.7);
    EXPECT_LT(quality::Coverage(b.mask_ir, p), 0.2);
    EXPECT_GT(quality::TargetContrast(a.fused, p, all), quality::TargetContrast(b.fused, p, all));
    EXPECT_GT(quality::TargetContrast(b.fused, c, all), quality::TargetContrast(a.fused, c, all));
  }
  EXPECT_EQ(scenes, 3);
}

// The demo model's weights hold subnormal floats (its training decayed
// unused attention weights below FLT_MIN), which is why the engine flushes
// them (model::FlushDenormalsGuard; the speed is bench/engine_bench's):
// with and without flushing, every output is the same, byte for byte.
TEST(BundledModelTest, FlushingDenormalsChangesNoOutput) {
  const auto scene = image::GenerateScene(image::SceneOptionsFor(1000, 0, 320, 240, 8));
  const auto ir = image::ToImageData(scene.infrared), vis = image::ToImageData(scene.visible);
  const cv::Mat& m = scene.targets.at(0).mask;
  auto run = [&](bool flush) {
    api::EngineOptions eo;
    eo.checkpoint = CTRLFUSE_BUNDLED_MODEL;
    eo.flush_denormals = flush;
    auto engine = api::FusionEngine::Create(eo);
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (!engine.ok()) return api::FusedImage{};
    auto enc = (*engine)->Encode({{&ir, &vis, {}}});
    EXPECT_TRUE(enc.ok()) << enc.status();
    if (!enc.ok()) return api::FusedImage{};
    auto out = (*engine)->Decode(
        {{(*enc)[0],
          std::vector<uint8_t>(m.data, m.data + m.total()),
          {api::Output::kFused, api::Output::kMaskVisible, api::Output::kMaskInfrared, api::Output::kReference}}});
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)[0] : api::FusedImage{};
  };
  const api::FusedImage flushed = run(true), exact = run(false);
  ASSERT_EQ(flushed.fused.size(), size_t(320 * 240));
  EXPECT_EQ(flushed.fused, exact.fused);
  EXPECT_EQ(flushed.mask_vis, exact.mask_vis);
  EXPECT_EQ(flushed.mask_ir, exact.mask_ir);
  EXPECT_EQ(flushed.i_ref, exact.i_ref);
  EXPECT_FALSE(flushed.mask_ir.empty());
}

}  // namespace
}  // namespace ctrlfuse
