// Deterministic synthetic infrared/visible road scenes with instance masks,
// for the demo, the tests and training. People and vehicles are warm
// (bright, low-texture) in infrared and dim (night), glare-lit or
// camouflaged (day) in the visible image; the background has texture and
// edges that only the visible image shows; both sensors add a little noise.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ctrlfuse::image {

struct SceneOptions {
  uint64_t seed = 0;
  int width = 320, height = 240;
  bool night = true;
  int ir_bit_depth = 8;  // 8 or 16 (16-bit counts like a radiometric camera)
  int num_people = 2;
  int num_vehicles = 1;
};

struct SceneTarget {
  std::string label;  // "person" or "car"
  cv::Rect box;
  cv::Mat mask;  // CV_8UC1 0/255, full image size
};

struct Scene {
  cv::Mat infrared;  // CV_8UC1 or CV_16UC1
  cv::Mat visible;   // CV_8UC3 BGR
  std::vector<SceneTarget> targets;
  cv::Mat AllTargets() const;  // union of the masks
};

Scene GenerateScene(const SceneOptions& options);

// Scene i of a data set: alternates night/day and varies counts, all from
// (base_seed, i) so any index can be regenerated alone.
SceneOptions SceneOptionsFor(uint64_t base_seed, int index, int width, int height, int ir_bit_depth);

}  // namespace ctrlfuse::image
