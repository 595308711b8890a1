// The C++ module trees against the official state_dict manifests: same
// names, shapes and dtypes, nothing missing, nothing extra that persists.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/model/test_util.h"

namespace ctrlfuse::model {
namespace {
using testing::ManifestEntry;

void ExpectSameEntries(std::vector<ManifestEntry> got, std::vector<ManifestEntry> want) {
  ASSERT_FALSE(want.empty());
  auto by_name = [](const ManifestEntry& a, const ManifestEntry& b) { return a.name < b.name; };
  std::sort(got.begin(), got.end(), by_name);
  std::sort(want.begin(), want.end(), by_name);
  std::vector<std::string> diff;
  size_t i = 0, j = 0;
  while (i < got.size() || j < want.size()) {
    if (j == want.size() || (i < got.size() && got[i].name < want[j].name)) {
      diff.push_back("extra " + got[i++].name);
    } else if (i == got.size() || want[j].name < got[i].name) {
      diff.push_back("missing " + want[j++].name);
    } else {
      if (!(got[i] == want[j]))
        diff.push_back(got[i].name + " " + got[i].shape + "/" + got[i].dtype + " vs " + want[j].shape + "/" +
                       want[j].dtype);
      ++i, ++j;
    }
  }
  EXPECT_TRUE(diff.empty()) << diff.size() << " differences, first: " << diff.front();
  EXPECT_EQ(got.size(), want.size());
}

TEST(ManifestTest, SamVitB) {
  ModelConfig c = VitBConfig();
  sam::Sam s(c.sam);
  ExpectSameEntries(testing::ModuleManifest(*s), testing::ReadManifest("sam_vit_b.state_dict.tsv"));
}

TEST(ManifestTest, SamVitL) {
  ModelConfig c = VitLConfig();
  sam::Sam s(c.sam);
  ExpectSameEntries(testing::ModuleManifest(*s), testing::ReadManifest("sam_vit_l.state_dict.tsv"));
}

// The released network with ViT-H SAM (about 2.5 GB in fp32): built once and
// compared with both the whole manifest and the trainable part.
TEST(ManifestTest, ReleasedNetworkVitH) {
  CtrlFuseNet net(VitHConfig());
  auto all = testing::ModuleManifest(*net);
  ExpectSameEntries(all, testing::ReadManifest("ctrlfuse_net.state_dict.tsv"));

  std::vector<ManifestEntry> trainable, sam_part;
  for (const auto& e : all) {
    if (e.name.rfind("sam_model.", 0) == 0) {
      sam_part.push_back({e.name.substr(10), e.shape, e.dtype});
    } else {
      trainable.push_back(e);
    }
  }
  ExpectSameEntries(trainable, testing::ReadManifest("ctrlfuse_net_trainable.tsv"));
  ExpectSameEntries(sam_part, testing::ReadManifest("sam_vit_h.state_dict.tsv"));
}

TEST(ManifestTest, ConfigsValidateAndQueriesShapeThePsfmMap) {
  for (const auto& name : ConfigNames()) {
    ModelConfig c;
    ASSERT_TRUE(FindConfig(name, &c)) << name;
    EXPECT_EQ(ValidateConfig(c), "") << name;
  }
  ModelConfig c = VitHConfig();
  EXPECT_EQ(c.token_rows(), 5);
  EXPECT_EQ(c.token_cols(), 10);  // the release's 5x10
  c.num_queries = 40;             // the paper's N
  EXPECT_EQ(c.token_rows(), 5);
  EXPECT_EQ(c.token_cols(), 8);
  ModelConfig unknown;
  EXPECT_FALSE(FindConfig("vit_x", &unknown));
}

TEST(ManifestTest, PaperQueryCountBuildsAndRuns) {
  ModelConfig c = TinyConfig();
  c.num_queries = 6;  // 2x3 map
  torch::manual_seed(0);
  CtrlFuseNet net(c);
  net->eval();
  torch::InferenceMode guard;
  auto [vis, ir] = testing::SyntheticPair(1, 32, 48);
  auto out = net->forward(vis, ir, testing::BoxMask(1, 32, 48, 8, 24, 8, 24));
  EXPECT_EQ(out.fused.sizes(), (std::vector<int64_t>{1, 1, 32, 48}));
}

}  // namespace
}  // namespace ctrlfuse::model
