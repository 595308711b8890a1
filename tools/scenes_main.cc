// ctrlfuse-scenes: writes synthetic infrared/visible scene pairs with
// instance masks, in the CtrlFuse release's folder layout
// (OUT/{ir,vi,mask}/NNNN.png) plus OUT/labels.tsv (file, target, label, box).
#include <filesystem>
#include <fstream>
#include <iostream>

#include <opencv2/imgcodecs.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "image/scenes.h"

ABSL_FLAG(std::string, out, "scenes", "Output folder.");
ABSL_FLAG(int, count, 8, "Number of scenes.");
ABSL_FLAG(int, first, 0, "Index of the first scene (scenes are regenerable by index).");
ABSL_FLAG(uint64_t, seed, 1, "Base seed.");
ABSL_FLAG(int, width, 320, "Width in pixels.");
ABSL_FLAG(int, height, 240, "Height in pixels.");
ABSL_FLAG(int, ir_bits, 8, "Infrared bit depth: 8 or 16.");
ABSL_FLAG(int, mask_targets, 1, "Targets merged into each scene's mask prompt (1 or 2).");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("ctrlfuse-scenes --out DIR [--count N] [--seed S] [--ir_bits 8|16]");
  absl::ParseCommandLine(argc, argv);
  namespace fs = std::filesystem;
  const fs::path out = absl::GetFlag(FLAGS_out);
  for (const char* d : {"ir", "vi", "mask"}) fs::create_directories(out / d);
  std::ofstream labels(out / "labels.tsv");
  labels << "file\ttarget\tlabel\tx\ty\twidth\theight\tin_mask\n";
  for (int i = absl::GetFlag(FLAGS_first); i < absl::GetFlag(FLAGS_first) + absl::GetFlag(FLAGS_count); ++i) {
    auto options = ctrlfuse::image::SceneOptionsFor(absl::GetFlag(FLAGS_seed), i, absl::GetFlag(FLAGS_width),
                                                    absl::GetFlag(FLAGS_height), absl::GetFlag(FLAGS_ir_bits));
    auto scene = ctrlfuse::image::GenerateScene(options);
    const std::string name = absl::StrFormat("%04d.png", i);
    cv::Mat mask(scene.visible.size(), CV_8UC1, cv::Scalar(0));
    const size_t in_mask =
        std::min<size_t>(scene.targets.size(), size_t(std::max(1, absl::GetFlag(FLAGS_mask_targets))));
    for (size_t k = 0; k < in_mask; ++k) mask |= scene.targets[k].mask;
    if (!cv::imwrite((out / "ir" / name).string(), scene.infrared) ||
        !cv::imwrite((out / "vi" / name).string(), scene.visible) ||
        !cv::imwrite((out / "mask" / name).string(), mask)) {
      std::cerr << "cannot write into " << out << std::endl;
      return 1;
    }
    for (size_t k = 0; k < scene.targets.size(); ++k) {
      const auto& t = scene.targets[k];
      labels << name << '\t' << k << '\t' << t.label << '\t' << t.box.x << '\t' << t.box.y << '\t' << t.box.width
             << '\t' << t.box.height << '\t' << (k < in_mask) << '\n';
    }
  }
  std::cout << "wrote " << absl::GetFlag(FLAGS_count) << " scenes to " << out << std::endl;
  return 0;
}
