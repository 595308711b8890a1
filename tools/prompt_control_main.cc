// ctrlfuse-prompt-control: measures whether the prompt steers the fusion.
// For held-out synthetic scenes with two or more targets, each target T is
// fused once prompted (mask = T) and once not (mask = another target); the
// infrared contrast of T in the fused image is mean(F in T) - mean(F in a
// ring around T). Prints a markdown table and writes a picture of one scene
// (prompt A vs prompt B).
#include <iostream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "image/image_data.h"
#include "image/scenes.h"
#include "model/api/fusion_engine.h"

ABSL_FLAG(std::string, checkpoint, "", "Model checkpoint (empty: seeded random tiny).");
ABSL_FLAG(std::string, config, "tiny", "Model configuration.");
ABSL_FLAG(uint64_t, seed, 1000, "Base seed of the held-out scenes (training used other seeds).");
ABSL_FLAG(int, count, 24, "Scenes to try.");
ABSL_FLAG(int, width, 320, "Scene width.");
ABSL_FLAG(int, height, 240, "Scene height.");
ABSL_FLAG(std::string, picture, "prompt_control.png", "Output picture (first usable scene).");

namespace {
using namespace ctrlfuse;

double Contrast(const cv::Mat& fused, const cv::Mat& target, const cv::Mat& all_targets) {
  cv::Mat ring;
  cv::dilate(target, ring, cv::getStructuringElement(cv::MORPH_ELLIPSE, {15, 15}));
  ring &= ~all_targets;
  if (cv::countNonZero(ring) == 0 || cv::countNonZero(target) == 0) return 0;
  return cv::mean(fused, target)[0] - cv::mean(fused, ring)[0];
}

cv::Mat Tile(const cv::Mat& m, const std::string& caption) {
  cv::Mat t = m.clone();
  if (t.channels() == 1) cv::cvtColor(t, t, cv::COLOR_GRAY2BGR);
  cv::putText(t, caption, {6, 18}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
  return t;
}
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  api::EngineOptions eo;
  eo.config = absl::GetFlag(FLAGS_config);
  eo.checkpoint = absl::GetFlag(FLAGS_checkpoint);
  auto engine = api::FusionEngine::Create(eo);
  if (!engine.ok()) {
    std::cerr << engine.status() << std::endl;
    return 1;
  }
  int targets = 0, higher = 0;
  double sum_prompted = 0, sum_other = 0;
  bool picture_done = false;
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    auto scene = image::GenerateScene(image::SceneOptionsFor(absl::GetFlag(FLAGS_seed), i, absl::GetFlag(FLAGS_width),
                                                             absl::GetFlag(FLAGS_height), 8));
    if (scene.targets.size() < 2) continue;
    auto ir = image::ToImageData(scene.infrared), vis = image::ToImageData(scene.visible);
    auto enc = (*engine)->Encode({{&ir, &vis, {}}});
    if (!enc.ok()) return 1;
    std::vector<cv::Mat> fused(scene.targets.size());
    for (size_t k = 0; k < scene.targets.size(); ++k) {
      const cv::Mat& m = scene.targets[k].mask;
      auto out = (*engine)->Decode({{(*enc)[0], std::vector<uint8_t>(m.data, m.data + m.total()), false}});
      if (!out.ok()) return 1;
      fused[k] = cv::Mat(m.rows, m.cols, CV_8UC1, (*out)[0].fused.data()).clone();
    }
    const cv::Mat all = scene.AllTargets();
    for (size_t k = 0; k < scene.targets.size(); ++k) {
      const size_t other = (k + 1) % scene.targets.size();
      const double p = Contrast(fused[k], scene.targets[k].mask, all);
      const double o = Contrast(fused[other], scene.targets[k].mask, all);
      sum_prompted += p;
      sum_other += o;
      higher += p > o;
      ++targets;
    }
    if (!picture_done) {
      std::vector<cv::Mat> row = {Tile(scene.infrared, "infrared"),        Tile(scene.visible, "visible"),
                                  Tile(scene.targets[0].mask, "prompt A"), Tile(fused[0], "fused, prompt A"),
                                  Tile(scene.targets[1].mask, "prompt B"), Tile(fused[1], "fused, prompt B")};
      cv::Mat pic;
      cv::hconcat(row, pic);
      cv::imwrite(absl::GetFlag(FLAGS_picture), pic);
      picture_done = true;
    }
  }
  if (targets == 0) return 1;
  std::cout << "| targets | mean contrast when prompted | mean contrast when another target is prompted | prompted "
               "higher |\n";
  std::cout << "|---|---|---|---|\n";
  std::cout << absl::StrFormat("| %d | %.2f | %.2f | %d / %d (%.0f%%) |\n", targets, sum_prompted / targets,
                               sum_other / targets, higher, targets, 100.0 * higher / targets);
  return 0;
}
