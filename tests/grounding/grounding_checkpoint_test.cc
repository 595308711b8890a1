// The official GroundingDINO checkpoint layout: our module tree against the
// release's state_dict manifest, and a file in the official layout (dict
// with `model`, `module.` prefixes, the training-only label_enc, the
// position_ids buffer, the box MLP under 12 names) loading strictly through
// the torch.save reader; errors name the offending keys. Label `grounding`.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include "model/grounding/grounding_checkpoint.h"
#include "tests/model/test_util.h"

namespace ctrlfuse::model::grounding {
namespace {

using model::testing::ManifestEntry;

std::vector<int64_t> ParseShape(const std::string& shape) {
  std::vector<int64_t> dims;
  std::istringstream s(shape);
  for (std::string d; std::getline(s, d, 'x');) dims.push_back(std::stoll(d));
  return dims;
}

bool IsFoldedAlias(const std::string& name) {
  return (name.rfind("bbox_embed.", 0) == 0 && name.rfind("bbox_embed.0.", 0) != 0) ||
         name.rfind("transformer.decoder.bbox_embed.", 0) == 0;
}

TEST(GroundingCheckpointTest, OurModuleTreeIsTheReleaseManifestWithTheSharedBoxMlpFolded) {
  torch::NoGradGuard no_grad;
  GroundingDino model(SwinTOgcConfig());
  std::set<std::string> ours;
  std::map<std::string, std::string> shapes;
  for (const ManifestEntry& e : model::testing::ModuleManifest(*model)) {
    ours.insert(e.name);
    shapes[e.name] = e.shape + "/" + e.dtype;
  }
  const std::vector<ManifestEntry> release = model::testing::ReadManifest("groundingdino_swint_ogc.state_dict.tsv");
  ASSERT_GT(release.size(), 900u);
  std::set<std::string> expected;
  int aliases = 0;
  int64_t params = 0;
  for (const ManifestEntry& e : release) {
    if (e.name == "bert.embeddings.position_ids") continue;
    if (IsFoldedAlias(e.name)) {
      ++aliases;
      continue;
    }
    expected.insert(e.name);
    EXPECT_EQ(shapes[e.name], e.shape + "/" + e.dtype) << e.name;
    int64_t n = 1;
    for (int64_t d : ParseShape(e.shape)) n *= d;
    if (e.name.find("relative_position_index") == std::string::npos) params += n;
  }
  EXPECT_EQ(ours, expected);
  EXPECT_EQ(aliases, 11 * 6);  // 11 more names of the six box-MLP tensors
  // 172.8 M parameters (spec): Swin-T 27.5 M + BERT 109.5 M + transformer 33.4 M + heads.
  EXPECT_NEAR(static_cast<double>(params) / 1e6, 172.8, 0.5);
}

// A file in the release's layout from a tiny model's own weights.
NamedTensors OfficialLayout(GroundingDinoImpl& model) {
  NamedTensors entries;
  for (const auto& [k, v] : StateDict(model)) {
    entries.emplace_back("module." + k, v.clone());
    if (k.rfind("bbox_embed.0.", 0) == 0) {
      const std::string suffix = k.substr(13);
      for (int i = 0; i < model.config().decoder_layers; ++i) {
        if (i) entries.emplace_back("module.bbox_embed." + std::to_string(i) + "." + suffix, v.clone());
        entries.emplace_back("module.transformer.decoder.bbox_embed." + std::to_string(i) + "." + suffix, v.clone());
      }
    }
  }
  entries.emplace_back("module.label_enc.weight", torch::randn({2001, model.config().hidden}));
  entries.emplace_back("module.bert.embeddings.position_ids", torch::arange(512).unsqueeze(0));
  return entries;
}

std::string WriteOfficialFile(const NamedTensors& entries) {
  std::vector<std::pair<std::string, ckpt::PyPtr>> state;
  for (const auto& [k, v] : entries) state.emplace_back(k, ckpt::MakeTensor(v));
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ctrlfuse_gdino_" + std::to_string(getpid()) + ".pth")).string();
  ckpt::WriteTorchFile(path, *ckpt::MakeDict({{"model", ckpt::MakeDict(std::move(state))}}));
  return path;
}

TEST(GroundingCheckpointTest, TheOfficialFileLayoutLoadsStrictlyAndErrorsNameTheKeys) {
  torch::manual_seed(3);
  GroundingDino source(GroundingTinyConfig());
  for (auto& p : source->parameters()) p.data().normal_();
  const NamedTensors entries = OfficialLayout(*source);
  const std::string path = WriteOfficialFile(entries);
  GroundingDino loaded(GroundingTinyConfig());
  LoadOfficialGroundingDino(*loaded, path);
  std::filesystem::remove(path);
  const NamedTensors a = StateDict(*source), b = StateDict(*loaded);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;

  auto error_of = [&](const NamedTensors& e) -> std::string {
    GroundingDino m(GroundingTinyConfig());
    try {
      LoadGroundingDino(*m, e, "test file");
    } catch (const std::runtime_error& err) {
      return err.what();
    }
    return "";
  };
  NamedTensors changed = entries;
  for (auto& [k, v] : changed)
    if (k == "module.transformer.decoder.bbox_embed.1.layers.1.bias") v = v + 1;
  EXPECT_NE(error_of(changed).find("transformer.decoder.bbox_embed.1.layers.1.bias differs"), std::string::npos);
  NamedTensors missing;
  for (const auto& e : entries)
    if (e.first != "module.transformer.tgt_embed.weight") missing.push_back(e);
  EXPECT_NE(error_of(missing).find("transformer.tgt_embed.weight"), std::string::npos);
  NamedTensors misshaped = entries;
  for (auto& [k, v] : misshaped)
    if (k == "module.feat_map.weight") v = torch::zeros({7, 7});
  EXPECT_NE(error_of(misshaped).find("feat_map.weight"), std::string::npos);
  NamedTensors extra = entries;
  extra.emplace_back("module.transformer.unknown.weight", torch::zeros({1}));
  EXPECT_NE(error_of(extra).find("transformer.unknown.weight"), std::string::npos);
}

}  // namespace
}  // namespace ctrlfuse::model::grounding
