// Training samples for ctrlfuse-train: folders in the release's layouts or
// the synthetic scene generator. Sampling is a pure function of (seed,
// step), so a resumed run sees exactly the data an uninterrupted one would.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ctrlfuse::train {

struct Sample {
  std::string name;
  cv::Mat visible;   // CV_8UC3 or CV_8UC1
  cv::Mat infrared;  // CV_8UC1 or CV_16UC1
  cv::Mat mask;      // CV_8UC1 0..255
};

class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual absl::StatusOr<Sample> Get(uint64_t seed, int64_t index) = 0;
  virtual int64_t size() const = 0;  // samples per epoch; 0 = unbounded (synthetic)
};

// DIR/{vi,ir,mask} or DIR/{Visible,Infrared,mask}, paired by file stem
// (common/folder_pairs.h: case-insensitive, any extension; not
// by sort order). Files present in one folder and not the others are an
// error that names them.
absl::StatusOr<std::unique_ptr<DataSource>> OpenFolder(const std::string& dir);

// What a synthetic sample's mask prompt covers.
enum class SyntheticPrompt {
  kInstance,  // one target (or, one time in three, two) chosen from (seed, index)
  kClass,     // every target of one class ("person" or "car") chosen from (seed, index),
              // like the semantic masks of the release's data sets
};

// Synthetic scenes of width x height, a new one per sample (scene index =
// sample number).
std::unique_ptr<DataSource> Synthetic(int width, int height, SyntheticPrompt prompt = SyntheticPrompt::kInstance);

// Index of the sample used at (step, k-th in batch): for a bounded source a
// per-epoch shuffle seeded by (seed, epoch); for an unbounded one the
// running sample number.
int64_t SampleIndex(uint64_t seed, int64_t step, int batch, int k, int64_t size);

}  // namespace ctrlfuse::train
