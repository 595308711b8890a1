// Checkpoint IO against files written by Debian's python3-torch at test time
// in the official layouts, and the project's own format.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "tests/model/test_util.h"

namespace ctrlfuse::model {
namespace {
namespace fs = std::filesystem;

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

class CheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("ctrlfuse_ckpt_" + std::to_string(getpid())));
    fs::create_directories(*dir_);
    auto net = testing::MakeTiny();
    std::ofstream m(*dir_ / "manifest.tsv");
    m << "name\tshape\tdtype\n";
    for (const auto& e : testing::ModuleManifest(*net)) m << e.name << '\t' << e.shape << '\t' << e.dtype << '\n';
    m.close();
    const std::string cmd = std::string(CTRLFUSE_PYTHON) + " " + std::string(CTRLFUSE_SOURCE_DIR) +
                            "/tests/model/write_checkpoints.py " + (*dir_ / "manifest.tsv").string() + " " +
                            dir_->string() + " 2>&1";
    fixture_log_ = new std::string(RunCommand(cmd));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete fixture_log_;
  }
  void SetUp() override { ASSERT_TRUE(fs::exists(*dir_ / "expected.tsv")) << *fixture_log_; }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }

  // The message of the runtime_error `fn` throws ("" if none).
  template <typename Fn>
  static std::string ErrorOf(Fn fn) {
    try {
      fn();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  static fs::path* dir_;
  static std::string* fixture_log_;
};
fs::path* CheckpointTest::dir_ = nullptr;
std::string* CheckpointTest::fixture_log_ = nullptr;

TEST_F(CheckpointTest, OfficialReleaseFileLoadsStrictlyWithValues) {
  auto net = testing::MakeTiny(99);
  LoadOfficialCtrlFuse(net, Path("official.pth"));
  std::map<std::string, torch::Tensor> own;
  for (auto& [k, v] : StateDict(*net)) own[k] = v;
  std::ifstream exp(Path("expected.tsv"));
  std::string name;
  double sum = 0, first = 0;
  int checked = 0;
  while (exp >> name >> sum >> first) {
    ASSERT_TRUE(own.count(name)) << name;
    EXPECT_NEAR(own[name].to(torch::kFloat64).sum().item<double>(), sum, 1e-3 + 1e-6 * std::abs(sum)) << name;
    EXPECT_DOUBLE_EQ(own[name].flatten()[0].item<double>(), first) << name;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(own.size()));
  // The non-persistent part is untouched and Sobel kernels come from the file.
  EXPECT_EQ(LoadAnyCheckpoint(net, Path("official.pth")), "ctrlfuse-official");
}

TEST_F(CheckpointTest, OfficialSamFileLoadsIntoSamOnly) {
  auto net = testing::MakeTiny(99);
  auto before = StateDict(*net);
  auto merge_before = net->named_parameters()["merge_2c.0.weight"].clone();
  LoadOfficialSam(net->sam_model, Path("sam.pth"));
  EXPECT_TRUE(torch::equal(net->named_parameters()["merge_2c.0.weight"], merge_before));
  std::ifstream exp(Path("expected.tsv"));
  std::string name;
  double sum = 0, first = 0;
  auto params = net->named_parameters();
  while (exp >> name >> sum >> first) {
    if (name.rfind("sam_model.", 0) != 0 || !params.contains(name)) continue;
    EXPECT_DOUBLE_EQ(params[name].flatten()[0].item<double>(), first) << name;
  }
  EXPECT_EQ(LoadAnyCheckpoint(net, Path("sam.pth")), "sam-official");
}

TEST_F(CheckpointTest, BrokenFilesFailWithNamedProblems) {
  auto net = testing::MakeTiny();
  auto trunc = ErrorOf([&] { LoadOfficialCtrlFuse(net, Path("truncated.pth")); });
  EXPECT_NE(trunc.find("truncated"), std::string::npos) << trunc;

  std::ifstream key_file(Path("wrong_shape_key.txt"));
  std::string wrong_key;
  std::getline(key_file, wrong_key);
  auto shape = ErrorOf([&] { LoadOfficialCtrlFuse(net, Path("wrong_shape.pth")); });
  EXPECT_NE(shape.find("mis-shaped keys (1): " + wrong_key), std::string::npos) << shape;

  auto missing = ErrorOf([&] { LoadOfficialCtrlFuse(net, Path("missing_key.pth")); });
  EXPECT_NE(missing.find("missing keys (1): merge_2c.0.weight"), std::string::npos) << missing;

  auto extra = ErrorOf([&] { LoadOfficialCtrlFuse(net, Path("unexpected_key.pth")); });
  EXPECT_NE(extra.find("unexpected keys (1): extra.head.weight"), std::string::npos) << extra;

  auto legacy = ErrorOf([&] { LoadOfficialCtrlFuse(net, Path("legacy.pth")); });
  EXPECT_NE(legacy.find("not a zip-format"), std::string::npos) << legacy;

  auto absent = ErrorOf([&] { LoadOfficialCtrlFuse(net, Path("no_such_file.pth")); });
  EXPECT_NE(absent.find("cannot open"), std::string::npos) << absent;

  // A SAM-only file is not a CtrlFuse checkpoint.
  auto sam_as_full = ErrorOf([&] { LoadOfficialCtrlFuse(net, Path("sam.pth")); });
  EXPECT_NE(sam_as_full.find("no 'model' entry"), std::string::npos) << sam_as_full;
}

TEST_F(CheckpointTest, FailedLoadLeavesTheModelUnchanged) {
  auto net = testing::MakeTiny();
  auto before = net->named_parameters()["feature_extractor1.0.conv.weight"].clone();
  EXPECT_THROW(LoadOfficialCtrlFuse(net, Path("missing_key.pth")), std::runtime_error);
  EXPECT_TRUE(torch::equal(net->named_parameters()["feature_extractor1.0.conv.weight"], before));
}

TEST_F(CheckpointTest, OwnCheckpointRoundTripAndPythonReadsIt) {
  auto a = testing::MakeTiny(11);
  const auto file = Path("own.pth");
  SaveCheckpoint(a, file, {{"step", ckpt::MakeInt(123)}});
  auto b = testing::MakeTiny(12);
  auto extra = LoadCheckpoint(b, file);
  ASSERT_TRUE(extra->Get("step"));
  EXPECT_EQ(extra->Get("step")->i, 123);
  double total = 0;
  auto sa = StateDict(*a), sb = StateDict(*b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
    total += sa[i].second.to(torch::kFloat64).sum().item<double>();
  }
  EXPECT_EQ(CheckpointConfigName(file), "tiny");
  EXPECT_EQ(LoadAnyCheckpoint(b, file), "ctrlfuse-serve");

  // Python's torch.load reads the same file.
  auto py = RunCommand(std::string(CTRLFUSE_PYTHON) + " " + std::string(CTRLFUSE_SOURCE_DIR) +
                       "/tests/model/read_own_checkpoint.py " + file + " 2>&1");
  std::istringstream s(py);
  std::string format, config;
  size_t count = 0;
  double py_total = 0;
  s >> format >> config >> count >> py_total;
  EXPECT_EQ(format, kCheckpointFormat) << py;
  EXPECT_EQ(config, "tiny");
  EXPECT_EQ(count, sa.size());
  EXPECT_NEAR(py_total, total, 1e-6 * std::abs(total) + 1e-6);
}

TEST_F(CheckpointTest, OwnCheckpointRefusesAnotherConfig) {
  auto a = testing::MakeTiny();
  const auto file = Path("own_tiny.pth");
  SaveCheckpoint(a, file);
  ModelConfig other = TinyConfig();
  other.name = "tiny_wide";
  other.feature_dim = other.sam.out_chans = 64;
  CtrlFuseNet b(other);
  auto msg = ErrorOf([&] { LoadCheckpoint(b, file); });
  EXPECT_NE(msg.find("checkpoint is for config 'tiny', the model is 'tiny_wide'"), std::string::npos) << msg;
  // An official file is not one of ours.
  auto net = testing::MakeTiny();
  auto not_own = ErrorOf([&] { LoadCheckpoint(net, Path("official.pth")); });
  EXPECT_NE(not_own.find("not a ctrlfuse-serve checkpoint"), std::string::npos) << not_own;
}

}  // namespace
}  // namespace ctrlfuse::model
