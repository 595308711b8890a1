// The client's parts without a server: the pairing rule every folder command
// uses (by stem, case-insensitive, any extension, unpaired files on both
// sides, ambiguous stems), the folder and --out_dir checks that name their
// flag, and the progress bar's redraw.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "client/folder_input.h"
#include "client/progress.h"
#include "common/folder_pairs.h"

namespace ctrlfuse {
namespace {
namespace fs = std::filesystem;

class FoldersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("pairs-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    for (const char* d : {"ir", "vi", "mask"}) fs::create_directories(root_ / d);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Touch(const std::string& rel) { std::ofstream(root_ / rel) << "x"; }
  std::string Dir(const char* d) const { return (root_ / d).string(); }
  fs::path root_;
};

TEST_F(FoldersTest, PairsByStemCaseInsensitivelyWhateverTheExtension) {
  Touch("ir/0001.PNG");
  Touch("vi/0001.jpg");
  Touch("ir/Scene_B.tif");
  Touch("vi/scene_b.png");
  Touch("ir/only_ir.png");
  Touch("vi/only_vi.png");
  Touch("ir/.DS_Store");
  fs::create_directories(root_ / "vi" / "sub.png");  // folders never count
  const auto p = common::PairByStem({Dir("ir"), Dir("vi")});
  ASSERT_EQ(p.pairs.size(), 2u);
  EXPECT_EQ(p.pairs[0].stem, "0001");
  EXPECT_EQ(p.pairs[0].paths, (std::vector<std::string>{Dir("ir") + "/0001.PNG", Dir("vi") + "/0001.jpg"}));
  EXPECT_EQ(p.pairs[1].stem, "Scene_B");  // spelt as in the first folder
  EXPECT_EQ(p.pairs[1].paths[1], Dir("vi") + "/scene_b.png");
  EXPECT_EQ(p.unpaired[0], (std::vector<std::string>{"only_ir.png"}));
  EXPECT_EQ(p.unpaired[1], (std::vector<std::string>{"only_vi.png"}));  // not sub.png, a folder
  EXPECT_TRUE(p.ambiguous.empty());
}

TEST_F(FoldersTest, AStemTwoFilesShareIsAmbiguousAndPairsWithNothing) {
  Touch("ir/a.png");
  Touch("ir/a.jpg");
  Touch("vi/a.png");
  const auto p = common::PairByStem({Dir("ir"), Dir("vi")});
  EXPECT_TRUE(p.pairs.empty());
  ASSERT_EQ(p.ambiguous.size(), 1u);
  EXPECT_EQ(p.ambiguous[0], Dir("ir") + ": a.jpg, a.png");
  EXPECT_EQ(p.unpaired[1], (std::vector<std::string>{"a.png"}));
  EXPECT_EQ(common::FileWithStem(Dir("ir"), "A"), "");  // ambiguous: no mask either
  EXPECT_EQ(common::FileWithStem(Dir("vi"), "A"), Dir("vi") + "/a.png");
}

TEST_F(FoldersTest, ReadFoldersReportsProblemsOnBothSidesAndMissingMasks) {
  Touch("ir/0001.png");
  Touch("vi/0001.png");
  Touch("mask/0001.PNG");
  Touch("ir/0002.png");
  Touch("vi/0002.png");
  Touch("ir/0003.png");
  Touch("vi/0004.png");
  auto in = client::ReadFolders(Dir("ir"), Dir("vi"), Dir("mask"));
  ASSERT_TRUE(in.ok()) << in.status();
  ASSERT_EQ(in->pairs.size(), 2u);
  EXPECT_EQ(in->pairs[0].mask, Dir("mask") + "/0001.PNG");
  EXPECT_EQ(in->pairs[1].mask, "");
  EXPECT_EQ(in->problems,
            (std::vector<std::string>{"0002: no mask with this stem in --mask_dir (fused without a prompt)",
                                      "0003.png: no visible image with the stem '0003' in --vis_dir",
                                      "0004.png: no infrared image with the stem '0004' in --ir_dir"}));
}

TEST_F(FoldersTest, FolderFlagsAreCheckedByName) {
  auto unset = client::ReadFolders("", Dir("vi"), "");
  EXPECT_EQ(unset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unset.status().message(), "--ir_dir: not set");
  auto missing = client::ReadFolders(Dir("ir"), Dir("nope"), "");
  EXPECT_EQ(missing.status().message(), "--vis_dir: '" + Dir("nope") + "' does not exist");
  Touch("file.png");
  auto not_dir = client::ReadFolders(Dir("ir"), Dir("vi"), (root_ / "file.png").string());
  EXPECT_EQ(not_dir.status().message(), "--mask_dir: '" + (root_ / "file.png").string() + "' is not a folder");
  EXPECT_TRUE(client::ReadFolders(Dir("ir"), Dir("vi"), "").ok());  // no mask folder: fine
}

TEST_F(FoldersTest, OutDirMustBeAFolderOrCreatable) {
  Touch("file.png");
  const auto s = client::PrepareOutDir((root_ / "file.png").string());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--out_dir: '" + (root_ / "file.png").string() + "' exists and is not a folder");
  EXPECT_FALSE(client::PrepareOutDir((root_ / "file.png" / "below").string()).ok());
  EXPECT_TRUE(client::PrepareOutDir((root_ / "new" / "deeper").string()).ok());
  EXPECT_TRUE(fs::is_directory(root_ / "new" / "deeper"));
}

TEST(ProgressTest, EachTerminalRedrawClearsTheRestOfTheLine) {
  FILE* out = std::tmpfile();
  client::Progress p("batch", 100, out, /*tty=*/true);
  p.Update(10, 10);  // "failed 10"
  p.Update(20, 0);   // "failed 0": shorter, must not leave "failed 00"
  p.Finish();
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text.push_back(char(c));
  std::fclose(out);
  size_t redraws = 0;
  for (size_t at = 0; (at = text.find('\r', at)) != std::string::npos; ++at) {
    const size_t end = text.find_first_of("\r\n", at + 1);
    const std::string line = text.substr(at + 1, end - at - 1);
    EXPECT_EQ(line.substr(line.size() - 3), "\033[K") << line;
    ++redraws;
  }
  EXPECT_EQ(redraws, 2u);
  EXPECT_NE(text.find("failed 0\033[K"), std::string::npos);
}

}  // namespace
}  // namespace ctrlfuse
