// Our BERT against transformers' BertModel run as the official GroundingDINO
// runs it (bert_reference.py): the block mask and restarting position ids of
// the official code, a truncated 256-token caption, and a padded batch under
// the padding mask; on seeded random weights and on MiniLM-L6's real ones.
// The state_dict loads by name, strictly. Label `grounding`.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "model/checkpoint/checkpoint.h"
#include "model/device.h"
#include "model/grounding/bert.h"
#include "tests/parity/reference_runner.h"

namespace ctrlfuse::model::grounding {
namespace {

using parity::MaxAbsDiff;

struct Case {
  const char* name;
  BertConfig config;
  double tolerance;
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
};

class BertParityTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { ConfigureThreads(0); }
  torch::InferenceMode guard_;
};

TEST_P(BertParityTest, HiddenStatesMatchTransformersUnderTheOfficialMasks) {
  const Case& c = GetParam();
  const parity::Reference ref = parity::RunReference("grounding/bert_reference.py", c.name, "bert");
  ASSERT_FALSE(ref.state.empty()) << ref.log;
  BertModel bert(c.config);
  LoadStateDict(*bert, ref.state, std::string("transformers BertModel (") + c.name + ")");
  bert->eval();
  for (int k = 0; k < 3; ++k) {
    SCOPED_TRACE("caption " + std::to_string(k));
    const std::string i = std::to_string(k);
    const torch::Tensor hidden = bert(ref.in.at("ids." + i), ref.in.at("positions." + i), ref.in.at("mask." + i));
    EXPECT_LE(MaxAbsDiff(hidden, ref.out.at("hidden." + i)), c.tolerance);
  }
  EXPECT_EQ(ref.in.at("ids.2").size(1), 256);  // the truncated caption reached the cap
  const torch::Tensor ids = ref.in.at("pad_ids");
  const torch::Tensor positions = torch::arange(ids.size(1)).unsqueeze(0).expand_as(ids).contiguous();
  const torch::Tensor padded = bert(ids, positions, ref.in.at("pad_mask"));
  // Padding rows see only padding-masked keys too; only real tokens compare.
  const torch::Tensor real = ref.in.at("pad_mask").to(torch::kBool).unsqueeze(-1);
  EXPECT_LE(MaxAbsDiff(padded.masked_fill(~real, 0), ref.out.at("pad_hidden").masked_fill(~real, 0)), c.tolerance);
}

BertConfig Small() {
  BertConfig c;
  c.hidden = 64;
  c.layers = 2;
  c.heads = 4;
  c.intermediate = 128;
  return c;
}

BertConfig MiniLm() {
  BertConfig c;
  c.hidden = 384;
  c.layers = 6;
  c.heads = 12;
  c.intermediate = 1536;
  return c;
}

INSTANTIATE_TEST_SUITE_P(Weights, BertParityTest,
                         ::testing::Values(Case{"random", Small(), 1e-5}, Case{"minilm", MiniLm(), 1e-4}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ctrlfuse::model::grounding
