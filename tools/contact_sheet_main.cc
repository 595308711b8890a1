// ctrlfuse-contact-sheet: one row per scene showing what the prompt changed.
//   infrared | visible | fused, no prompt | for each prompt kind:
//   its prompt mask over the visible image | fused with it | |fused - no prompt|
// The differences are amplified by one gain for the whole sheet and
// colour-mapped (inferno), with the gain and the largest difference printed
// on each tile, so a change of a few grey levels becomes visible. A prompt
// whose mask covers almost nothing or almost everything, or (given the
// targets' masks) lies mostly off the target, is not shown as if it worked
// (SAM of a small model missing a box, say): its tiles say so.
// Prints, per prompt kind, the mean and largest change and how many scenes
// had a usable mask (the demo quotes these lines).
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/folder_pairs.h"

ABSL_FLAG(std::string, ir_dir, "", "Infrared folder (one row per image).");
ABSL_FLAG(std::string, vis_dir, "", "Visible folder (by stem).");
ABSL_FLAG(std::string, none_dir, "", "Fused outputs without a prompt (STEM.png).");
ABSL_FLAG(std::string, prompted, "",
          "Prompt kinds to compare, 'LABEL=DIR,...': each DIR holds STEM.png (fused) and STEM_prompt.png (the "
          "prompt mask the network got), e.g. mask=out/fused,box=out/box.");
ABSL_FLAG(double, gain, 0,
          "Amplification of the differences (0: the sheet's own: the 99th percentile of the changed pixels' "
          "differences -> 255, at most x64).");
ABSL_FLAG(std::string, truth_dir, "",
          "Optional masks of the targets the prompts point at (STEM.png): a prompt mask is usable only if at "
          "least half of it lies on them.");
ABSL_FLAG(double, min_mask_fraction, 0.002, "A prompt mask covering less of the image is not usable.");
ABSL_FLAG(double, max_mask_fraction, 0.6, "A prompt mask covering more of the image is not usable.");
ABSL_FLAG(std::string, out, "contact_sheet.png", "Output PNG.");
ABSL_FLAG(int, tile_width, 200, "Width of each tile.");

namespace {
namespace fs = std::filesystem;

cv::Mat Grey(const cv::Mat& in) {
  cv::Mat g = in;
  if (g.depth() == CV_16U) cv::normalize(g, g, 0, 255, cv::NORM_MINMAX, CV_8U);
  if (g.channels() == 3) cv::cvtColor(g, g, cv::COLOR_BGR2GRAY);
  return g;
}

// A tile of `width` with a caption (two lines at most, '\n'-separated).
cv::Mat Tile(cv::Mat img, int width, const std::string& caption) {
  if (img.empty()) img = cv::Mat(3 * width / 4, width, CV_8UC3, cv::Scalar(60, 60, 60));
  if (img.depth() == CV_16U) cv::normalize(img, img, 0, 255, cv::NORM_MINMAX, CV_8U);
  if (img.channels() == 1) cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
  cv::resize(img, img, cv::Size(width, img.rows * width / img.cols), 0, 0, cv::INTER_AREA);
  int y = 16;
  for (auto line : absl::StrSplit(caption, '\n')) {
    cv::putText(img, std::string(line), {5, y}, cv::FONT_HERSHEY_SIMPLEX, 0.42, cv::Scalar(0, 0, 0), 3, cv::LINE_AA);
    cv::putText(img, std::string(line), {5, y}, cv::FONT_HERSHEY_SIMPLEX, 0.42, cv::Scalar(0, 255, 255), 1,
                cv::LINE_AA);
    y += 16;
  }
  return img;
}

struct Kind {
  std::string label, dir;
  double sum = 0, max = 0;  // over the changed pixels of usable scenes
  int64_t changed = 0, pixels = 0;
  int usable = 0, scenes = 0;
};

// Share of `prompt`'s pixels that lie on `truth` (1 when there is no truth).
double OnTarget(const cv::Mat& prompt, const cv::Mat& truth) {
  if (truth.empty() || truth.size() != prompt.size()) return 1;
  const int n = cv::countNonZero(prompt);
  if (n == 0) return 0;
  cv::Mat both;
  cv::bitwise_and(prompt > 0, truth > 0, both);
  return cv::countNonZero(both) / double(n);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<Kind> kinds;
  for (auto item : absl::StrSplit(absl::GetFlag(FLAGS_prompted), ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      std::cerr << "--prompted: '" << item << "' is not LABEL=DIR" << std::endl;
      return 2;
    }
    kinds.push_back({kv[0], kv[1]});
  }
  const auto scenes = ctrlfuse::common::PairByStem({absl::GetFlag(FLAGS_ir_dir), absl::GetFlag(FLAGS_vis_dir)}).pairs;
  if (scenes.empty()) {
    std::cerr << "no image pairs in " << absl::GetFlag(FLAGS_ir_dir) << " and " << absl::GetFlag(FLAGS_vis_dir)
              << std::endl;
    return 1;
  }
  const std::string none_dir = absl::GetFlag(FLAGS_none_dir);
  auto fused_in = [](const std::string& dir, const std::string& stem) {
    return Grey(cv::imread(ctrlfuse::common::FileWithStem(dir, stem), cv::IMREAD_UNCHANGED));
  };
  // First pass: each scene's images read once, and the differences, for
  // the sheet's gain.
  struct Compared {
    cv::Mat fused, diff;
  };
  std::map<std::pair<std::string, size_t>, Compared> compared;
  std::vector<cv::Mat> nones;
  std::vector<int> histogram(256, 0);  // of the changed pixels' differences
  for (size_t s = 0; s < scenes.size(); ++s) {
    const cv::Mat& none = nones.emplace_back(fused_in(none_dir, scenes[s].stem));
    for (auto& k : kinds) {
      cv::Mat fused = fused_in(k.dir, scenes[s].stem);
      if (none.empty() || fused.empty() || fused.size() != none.size()) continue;
      cv::Mat d;
      cv::absdiff(fused, none, d);
      for (auto it = d.begin<uint8_t>(); it != d.end<uint8_t>(); ++it)
        if (*it) ++histogram[*it];
      compared[{k.label, s}] = {fused, d};
    }
  }
  int64_t changed = 0, seen = 0;
  for (int v : histogram) changed += v;
  int p99 = 1;
  for (int v = 1; v < 256; ++v)
    if ((seen += histogram[size_t(v)]) >= 0.99 * double(changed)) {
      p99 = v;
      break;
    }
  const double gain =
      absl::GetFlag(FLAGS_gain) > 0 ? absl::GetFlag(FLAGS_gain) : std::min(64.0, 255.0 / std::max(1, p99));
  const int w = absl::GetFlag(FLAGS_tile_width);
  std::vector<cv::Mat> rows;
  for (size_t s = 0; s < scenes.size(); ++s) {
    const std::string& stem = scenes[s].stem;
    cv::Mat vis = cv::imread(scenes[s].paths[1], cv::IMREAD_COLOR);
    std::vector<cv::Mat> tiles = {Tile(cv::imread(scenes[s].paths[0], cv::IMREAD_UNCHANGED), w, "infrared"),
                                  Tile(vis.clone(), w, "visible"), Tile(nones[s].clone(), w, "fused, no prompt")};
    const cv::Mat truth =
        cv::imread(ctrlfuse::common::FileWithStem(absl::GetFlag(FLAGS_truth_dir), stem), cv::IMREAD_GRAYSCALE);
    for (auto& k : kinds) {
      ++k.scenes;
      cv::Mat prompt = cv::imread(ctrlfuse::common::FileWithStem(k.dir, stem + "_prompt"), cv::IMREAD_GRAYSCALE);
      const double fraction = prompt.empty() ? 0 : cv::countNonZero(prompt) / double(prompt.total());
      const double on_target = prompt.empty() ? 0 : OnTarget(prompt, truth);
      const bool sized =
          fraction >= absl::GetFlag(FLAGS_min_mask_fraction) && fraction <= absl::GetFlag(FLAGS_max_mask_fraction);
      const bool usable = sized && on_target >= 0.5 && compared.count({k.label, s});
      if (!usable) {
        const std::string why =
            prompt.empty() ? "no prompt mask"
            : !sized       ? absl::StrFormat("mask covers %.1f%%\nof the image: unusable", 100 * fraction)
                           : absl::StrFormat("only %.0f%% of the mask\non the target: unusable", 100 * on_target);
        for (int i = 0; i < 3; ++i) tiles.push_back(Tile(cv::Mat(), w, absl::StrCat(k.label, " prompt\n", why)));
        continue;
      }
      ++k.usable;
      cv::Mat overlay = vis.clone();
      if (overlay.size() != prompt.size()) cv::resize(overlay, overlay, prompt.size());
      cv::Mat red(overlay.size(), CV_8UC3, cv::Scalar(0, 0, 255));
      cv::Mat blended;
      cv::addWeighted(overlay, 0.5, red, 0.5, 0, blended);
      blended.copyTo(overlay, prompt);
      const cv::Mat& fused = compared.at({k.label, s}).fused;
      const cv::Mat& d = compared.at({k.label, s}).diff;
      double mx = 0;
      cv::minMaxLoc(d, nullptr, &mx);
      k.sum += cv::sum(d)[0];
      k.changed += cv::countNonZero(d);
      k.pixels += int64_t(d.total());
      k.max = std::max(k.max, mx);
      // Over a dimmed copy of the fused image (so one sees where), each
      // changed pixel in the colour of its amplified difference, spread
      // over 5x5 (a change of one pixel stays visible at tile size).
      cv::Mat amplified, spread, heat, background;
      d.convertTo(amplified, CV_8U, gain);
      cv::dilate(amplified, spread, cv::getStructuringElement(cv::MORPH_RECT, {5, 5}));
      cv::applyColorMap(spread, heat, cv::COLORMAP_INFERNO);
      fused.convertTo(background, CV_8U, 0.35);
      cv::cvtColor(background, background, cv::COLOR_GRAY2BGR);
      heat.copyTo(background, spread > 0);
      heat = background;
      tiles.push_back(Tile(overlay, w, absl::StrCat(k.label, " prompt (red)")));
      tiles.push_back(Tile(fused.clone(), w, absl::StrCat("fused, ", k.label, " prompt")));
      tiles.push_back(
          Tile(heat, w, absl::StrFormat("|%s - none| x%.0f, 5x5\nmax %.0f grey levels", k.label, gain, mx)));
    }
    cv::Mat row;
    cv::hconcat(tiles, row);
    rows.push_back(row);
  }
  cv::Mat sheet;
  cv::vconcat(rows, sheet);
  if (!cv::imwrite(absl::GetFlag(FLAGS_out), sheet)) {
    std::cerr << "cannot write " << absl::GetFlag(FLAGS_out) << std::endl;
    return 1;
  }
  std::cout << "contact sheet: " << absl::GetFlag(FLAGS_out) << " (" << rows.size() << " scenes; differences x"
            << std::fixed << std::setprecision(0) << gain << ")" << std::endl;
  for (const auto& k : kinds)
    std::cout << absl::StrFormat(
                     "prompt %s: usable in %d of %d scenes; it changed %.1f%% of the fused pixels, by %.1f grey "
                     "levels on average there and %.0f at most",
                     k.label, k.usable, k.scenes, k.pixels ? 100.0 * double(k.changed) / double(k.pixels) : 0.0,
                     k.changed ? k.sum / double(k.changed) : 0.0, k.max)
              << std::endl;
  return 0;
}
