// The whole CtrlFuse forward against the release's, on random weights:
// tests/parity/ctrlfuse_reference.py builds the network as the release does
// (Meta's official SAM inside), runs a batch of two and writes its
// state_dict, inputs and outputs; the state_dict loads into our network by
// name (strictly) and every output must agree. This is the check every
// speed change in docs/performance.md is held to. Label `parity`.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "model/config.h"
#include "model/ctrlfuse_net.h"
#include "model/device.h"
#include "tests/parity/reference_runner.h"

namespace ctrlfuse::model {
namespace {

using parity::MaxAbsDiff;

std::string Join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

std::string ModelArgs(const ModelConfig& c, int batch, int h, int w) {
  auto kv = [](const char* k, int v) { return std::string(" ") + k + "=" + std::to_string(v); };
  return parity::SamConfigArgs(c.sam) + " extractor=" + Join(c.extractor_channels) + kv("feature_dim", c.feature_dim) +
         " decoder=" + Join(c.decoder_channels) + kv("queries", c.num_queries) + kv("rpe_heads", c.rpe_heads) +
         kv("psfm_heads", c.psfm_heads) + kv("psfm_groups", c.psfm_groups) + kv("token_rows", c.token_rows()) +
         kv("token_cols", c.token_cols()) + kv("batch", batch) + kv("height", h) + kv("width", w);
}

// The tiny configuration has every part of the release's (GRDBs, RPEs with
// their query decoders, SAM with windowed and global blocks, both PSFMs).
TEST(CtrlFuseParityTest, WholeForwardMatchesTheReleasesOnABatchOfTwo) {
  ConfigureThreads(0);
  const ModelConfig config = TinyConfig();
  const auto ref = parity::RunReference("ctrlfuse_reference.py", ModelArgs(config, 2, 48, 64), "ctrlfuse");
  ASSERT_FALSE(ref.state.empty()) << ref.log;
  CtrlFuseNet net(config);
  LoadStateDict(*net, ref.state, "release-built CtrlFuse state_dict");
  net->eval();
  torch::InferenceMode guard;
  auto out = net->forward(ref.in.at("vis"), ref.in.at("ir"), ref.in.at("mask"));

  EXPECT_LE(MaxAbsDiff(out.i_ref, ref.out.at("i_ref")), 1e-5);
  EXPECT_LE(MaxAbsDiff(out.logit_mask_vis, ref.out.at("logit_mask_vis")), 1e-5);
  EXPECT_LE(MaxAbsDiff(out.logit_mask_ir, ref.out.at("logit_mask_ir")), 1e-5);
  // The reference's inputs keep every logit 1e-5 or more from 0.
  ASSERT_GT(ref.out.at("margin").item<double>(), 1e-5);
  for (const auto& [name, mine] : {std::pair<const char*, const torch::Tensor&>{"pred_mask_vis", out.pred_mask_vis},
                                   {"pred_mask_ir", out.pred_mask_ir},
                                   {"pred_mask", out.pred_mask}})
    EXPECT_TRUE(torch::equal(mine, ref.out.at(name))) << name;
  // Both masks are mixed (some in, some out): the fusion exercises both terms.
  for (const char* m : {"pred_mask_vis", "pred_mask_ir"}) {
    const double in = ref.out.at(m).to(torch::kFloat64).mean().item<double>();
    EXPECT_GT(in, 0.0) << m;
    EXPECT_LT(in, 1.0) << m;
  }
  EXPECT_LE(MaxAbsDiff(out.fused, ref.out.at("fused")), 1e-5);
  // And the split path the server uses (encode once, decode a prompt).
  auto split = net->Decode(net->Encode(ref.in.at("vis"), ref.in.at("ir")), ref.in.at("mask"));
  EXPECT_LE(MaxAbsDiff(split.fused, ref.out.at("fused")), 1e-5);
}

}  // namespace
}  // namespace ctrlfuse::model
