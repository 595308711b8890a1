// The engine (the server's only way into the model) feeds the network the
// same tensors training does: grey visible / 255, infrared normalised from
// its raw counts. Compared against a direct forward of the same weights,
// the bundled demo model's: random weights barely respond to their input,
// so they would not notice an infrared image that never arrives.
#include <gtest/gtest.h>

#include <string>

#include "model/api/fusion_engine.h"
#include "model/checkpoint/checkpoint.h"
#include "model/preprocess.h"
#include "tests/model/test_util.h"

namespace ctrlfuse::model {
namespace {

api::ImageData Grey8(const torch::Tensor& hw_uint8) {
  api::ImageData d;
  d.height = int(hw_uint8.size(0));
  d.width = int(hw_uint8.size(1));
  auto c = hw_uint8.contiguous();
  d.bytes.assign(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
  return d;
}

TEST(EngineTest, FeedsTheNetworkWhatTrainingFeedsIt) {
  const int64_t h = 48, w = 64;
  const std::string path = CTRLFUSE_BUNDLED_MODEL;
  auto net = testing::MakeTiny();
  ASSERT_EQ(LoadAnyCheckpoint(net, path), "ctrlfuse-serve") << path;

  // A warm square on a cool background in infrared; texture in visible.
  torch::manual_seed(11);
  auto ir8 = torch::full({h, w}, 60, torch::kUInt8);
  ir8.slice(0, 12, 36).slice(1, 16, 44).fill_(230);
  auto vis8 = (torch::rand({h, w}) * 200 + 20).to(torch::kUInt8);
  auto mask8 = torch::zeros({h, w}, torch::kUInt8);
  mask8.slice(0, 12, 36).slice(1, 16, 44).fill_(255);

  api::EngineOptions eo;
  eo.checkpoint = path;
  auto engine = api::FusionEngine::Create(eo);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto ir = Grey8(ir8), vis = Grey8(vis8);
  auto enc = (*engine)->Encode({{&ir, &vis, {}}});
  ASSERT_TRUE(enc.ok()) << enc.status();
  api::DecodeRequest req{(*enc)[0], std::vector<uint8_t>(mask8.data_ptr<uint8_t>(), mask8.data_ptr<uint8_t>() + h * w)};
  auto out = (*engine)->Decode({req});
  ASSERT_TRUE(out.ok()) << out.status();

  torch::NoGradGuard no_grad;
  auto as_input = [&](const torch::Tensor& x) {
    return (x.to(torch::kFloat32) / 255).view({1, 1, h, w}).expand({1, 3, h, w});
  };
  auto direct = net->forward(as_input(vis8), as_input(ir8), mask8.to(torch::kFloat32).view({1, 1, h, w}) / 255);
  // The comparison means something only if the infrared shows: the warm
  // square stands out in I_ref.
  auto i_ref = direct.i_ref.view({h, w});
  const double inside = i_ref.slice(0, 16, 32).slice(1, 20, 40).mean().item<double>();
  const double outside = i_ref.slice(0, 40, 48).mean().item<double>();
  EXPECT_GT(inside - outside, 0.3) << inside << " vs " << outside;
  auto want = (direct.fused.clamp(0, 1) * 255).round().to(torch::kInt32).view({h, w});
  auto got = torch::from_blob((*out)[0].fused.data(), {h, w}, torch::kUInt8).to(torch::kInt32);
  EXPECT_LE((got - want).abs().max().item<int>(), 1);

  // Only the planes asked for come back: the default is the grey fusion.
  EXPECT_TRUE((*out)[0].mask.empty());
  auto sparse = (*engine)->Decode({{(*enc)[0], req.mask, {api::Output::kMaskInfrared}}});
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  const auto& f = (*sparse)[0];
  EXPECT_TRUE(f.fused.empty() && f.fused_bgr.empty() && f.mask.empty() && f.mask_vis.empty() && f.i_ref.empty());
  EXPECT_EQ(f.mask_ir.size(), size_t(h * w));
}

}  // namespace
}  // namespace ctrlfuse::model
