// ctrlfuse-baselines: the trivial fusions the bundled model is compared
// with: the pixel average and the pixel maximum of the two sources (grey,
// BT.601 luma for colour, 16-bit scaled to 8-bit).
#include <filesystem>
#include <iostream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/folder_pairs.h"
#include "quality/metrics.h"

ABSL_FLAG(std::string, ir_dir, "", "Infrared folder.");
ABSL_FLAG(std::string, vis_dir, "", "Visible folder (paired by file stem).");
ABSL_FLAG(std::string, average_dir, "average", "Output folder for the pixel average.");
ABSL_FLAG(std::string, max_dir, "max", "Output folder for the pixel maximum.");

namespace {
// The sources as ctrlfuse-eval sees them (quality::ToGrey255), back in 8 bits
// (exact: its values are whole grey levels).
cv::Mat Grey8(const cv::Mat& m) {
  cv::Mat g;
  ctrlfuse::quality::ToGrey255(m).convertTo(g, CV_8U);
  return g;
}
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  namespace fs = std::filesystem;
  fs::create_directories(absl::GetFlag(FLAGS_average_dir));
  fs::create_directories(absl::GetFlag(FLAGS_max_dir));
  int n = 0;
  const fs::path ir_dir = absl::GetFlag(FLAGS_ir_dir), vis_dir = absl::GetFlag(FLAGS_vis_dir);
  const auto pairing = ctrlfuse::common::PairByStem({ir_dir.string(), vis_dir.string()});
  for (const auto& name : pairing.unpaired[0]) std::cerr << "skipping " << name << ": no visible image" << std::endl;
  for (const auto& pair : pairing.pairs) {
    const std::string name = fs::path(pair.paths[0]).filename().string();
    cv::Mat ir = cv::imread(pair.paths[0], cv::IMREAD_UNCHANGED);
    cv::Mat vis = cv::imread(pair.paths[1], cv::IMREAD_UNCHANGED);
    if (ir.empty() || vis.empty()) {
      std::cerr << "skipping " << name << ": unreadable pair" << std::endl;
      continue;
    }
    cv::Mat a = Grey8(ir), b = Grey8(vis), avg, mx;
    cv::addWeighted(a, 0.5, b, 0.5, 0, avg);
    cv::max(a, b, mx);
    cv::imwrite((fs::path(absl::GetFlag(FLAGS_average_dir)) / name).string(), avg);
    cv::imwrite((fs::path(absl::GetFlag(FLAGS_max_dir)) / name).string(), mx);
    ++n;
  }
  std::cout << "baselines for " << n << " pairs" << std::endl;
  return n > 0 ? 0 : 1;
}
