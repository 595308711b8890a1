#include "tools/train_data.h"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/folder_pairs.h"
#include "image/scenes.h"

namespace ctrlfuse::train {
namespace fs = std::filesystem;

namespace {

class FolderSource : public DataSource {
 public:
  // Each triple's paths: visible, infrared, mask (common::PairByStem).
  explicit FolderSource(std::vector<common::FilePair> triples) : triples_(std::move(triples)) {}
  absl::StatusOr<Sample> Get(uint64_t, int64_t index) override {
    const common::FilePair& t = triples_[size_t(index) % triples_.size()];
    const std::string n = fs::path(t.paths[0]).filename().string();
    Sample s;
    s.name = n;
    s.visible = cv::imread(t.paths[0], cv::IMREAD_UNCHANGED);
    s.infrared = cv::imread(t.paths[1], cv::IMREAD_UNCHANGED);
    s.mask = cv::imread(t.paths[2], cv::IMREAD_GRAYSCALE);
    if (s.visible.empty() || s.infrared.empty() || s.mask.empty())
      return absl::DataLossError(absl::StrCat("cannot read the images of ", n));
    if (s.visible.size() != s.infrared.size() || s.mask.size() != s.infrared.size())
      return absl::InvalidArgumentError(absl::StrCat(n, ": visible, infrared and mask differ in size"));
    return s;
  }
  int64_t size() const override { return int64_t(triples_.size()); }

 private:
  std::vector<common::FilePair> triples_;
};

class SyntheticSource : public DataSource {
 public:
  SyntheticSource(int w, int h, SyntheticPrompt prompt) : w_(w), h_(h), prompt_(prompt) {}
  absl::StatusOr<Sample> Get(uint64_t seed, int64_t index) override {
    auto scene = image::GenerateScene(image::SceneOptionsFor(seed, int(index), w_, h_, 8));
    std::mt19937_64 rng(seed * 7919 + uint64_t(index));
    Sample s;
    s.name = absl::StrCat("synthetic-", index);
    s.visible = scene.visible;
    s.infrared = scene.infrared;
    s.mask = cv::Mat::zeros(scene.visible.size(), CV_8UC1);
    const size_t n = scene.targets.size();
    if (n > 0 && prompt_ == SyntheticPrompt::kClass) {
      // Classes in order of first appearance, one of them drawn.
      std::vector<std::string> classes;
      for (const auto& t : scene.targets)
        if (std::find(classes.begin(), classes.end(), t.label) == classes.end()) classes.push_back(t.label);
      const std::string& chosen = classes[rng() % classes.size()];
      for (const auto& t : scene.targets)
        if (t.label == chosen) s.mask |= t.mask;
    } else if (n > 0) {
      const size_t first = rng() % n;
      s.mask |= scene.targets[first].mask;
      if (n > 1 && rng() % 3 == 0) s.mask |= scene.targets[(first + 1) % n].mask;
    }
    return s;
  }
  int64_t size() const override { return 0; }  // unbounded: every step sees new scenes

 private:
  int w_, h_;
  SyntheticPrompt prompt_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DataSource>> OpenFolder(const std::string& dir) {
  const fs::path root(dir);
  fs::path vis, ir, mask = root / "mask";
  if (fs::is_directory(root / "vi") && fs::is_directory(root / "ir")) {
    vis = root / "vi";
    ir = root / "ir";
  } else if (fs::is_directory(root / "Visible") && fs::is_directory(root / "Infrared")) {
    vis = root / "Visible";
    ir = root / "Infrared";
  } else {
    return absl::NotFoundError(absl::StrCat(dir, ": expected {vi,ir,mask} or {Visible,Infrared,mask} folders"));
  }
  if (!fs::is_directory(mask)) return absl::NotFoundError(absl::StrCat(dir, ": no mask folder"));
  const auto pairing = common::PairByStem({vis.string(), ir.string(), mask.string()});
  std::vector<std::string> problems;
  const std::string labels[] = {vis.filename().string(), ir.filename().string(), "mask"};
  for (size_t k = 0; k < 3; ++k) {
    const auto& unpaired = pairing.unpaired[k];
    if (!unpaired.empty())
      problems.push_back(absl::StrCat(
          labels[k], "/ has ", unpaired.size(), " without a pair: ",
          absl::StrJoin(
              std::vector<std::string>(unpaired.begin(), unpaired.begin() + std::min<size_t>(5, unpaired.size())),
              ", "),
          unpaired.size() > 5 ? ", ..." : ""));
  }
  for (const auto& a : pairing.ambiguous) problems.push_back("files sharing a stem in " + a);
  if (!problems.empty())
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": folders do not pair by file stem: ", absl::StrJoin(problems, "; ")));
  if (pairing.pairs.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no images"));
  return std::unique_ptr<DataSource>(new FolderSource(pairing.pairs));
}

std::unique_ptr<DataSource> Synthetic(int width, int height, SyntheticPrompt prompt) {
  return std::make_unique<SyntheticSource>(width, height, prompt);
}

int64_t SampleIndex(uint64_t seed, int64_t step, int batch, int k, int64_t size) {
  const int64_t flat = step * batch + k;
  if (size <= 0) return flat;
  const int64_t epoch = flat / size;
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed ^ (0x9E3779B97F4A7C15ULL * uint64_t(epoch + 1)));
  std::shuffle(order.begin(), order.end(), rng);
  return order[size_t(flat % size)];
}

}  // namespace ctrlfuse::train
