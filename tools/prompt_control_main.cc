// ctrlfuse-prompt-control: measures whether the prompt steers the fusion.
// For held-out synthetic scenes with two or more targets, each target T is
// fused once prompted (mask = T) and once with another target prompted
// instead (one of the other class, one of the same class, where the scene
// has them); the infrared contrast of T in the fused image is
// mean(F in T) - mean(F in a ring around T). Prints markdown tables (the
// contrasts, and where the returned masks lie) and writes a picture of the
// first scene with a person and a car apart (prompt A vs prompt B and the
// difference of the two fused images).
#include <array>
#include <iostream>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "image/image_data.h"
#include "image/scenes.h"
#include "model/api/fusion_engine.h"
#include "quality/prompt_measures.h"

ABSL_FLAG(std::string, checkpoint, "", "Model checkpoint (empty: seeded random tiny).");
ABSL_FLAG(std::string, config, "tiny", "Model configuration.");
ABSL_FLAG(uint64_t, seed, 1000, "Base seed of the held-out scenes (training used other seeds).");
ABSL_FLAG(int, count, 24, "Scenes to try.");
ABSL_FLAG(int, width, 320, "Scene width.");
ABSL_FLAG(int, height, 240, "Scene height.");
ABSL_FLAG(std::string, picture, "prompt_control.png", "Output picture (first usable scene).");

namespace {
using namespace ctrlfuse;

// Where the returned masks lie: on the prompted target, on the other
// targets of its class, on targets of the other class. A model that reads
// the prompt covers the first (and, by appearance, the second) and not the
// third; one that segments "every warm target" covers all three. Columns:
// the returned mask (either branch), the visible branch's, the infrared's.
struct MaskTally {
  static constexpr int kMasks = 3;
  struct Row {
    int n = 0;
    double share[kMasks] = {0, 0, 0};
  };
  Row prompted, same;
  std::map<std::string, Row> other;  // by the prompted target's class
  static void Add(Row& row, const std::array<cv::Mat, kMasks>& masks, const cv::Mat& region) {
    ++row.n;
    for (int i = 0; i < kMasks; ++i) row.share[i] += quality::Coverage(masks[i], region);
  }
  static void PrintRow(const std::string& what, const Row& row) {
    if (row.n == 0) return;
    std::cout << absl::StrFormat("| %s (%d) | %.3f | %.3f | %.3f |\n", what, row.n, row.share[0] / row.n,
                                 row.share[1] / row.n, row.share[2] / row.n);
  }
  void Print() const {
    std::cout << "\n| share of pixels covered (mean) | returned mask | visible branch | infrared branch |\n"
                 "|---|---|---|---|\n";
    PrintRow("the prompted target", prompted);
    PrintRow("other targets of its class", same);
    for (const auto& [label, row] : other) PrintRow("targets of the other class, a " + label + " prompted", row);
  }
};

struct Tally {
  int targets = 0, higher = 0;
  double prompted = 0, other = 0;
  void Add(double p, double o) {
    prompted += p;
    other += o;
    higher += p > o;
    ++targets;
  }
  void Print(const std::string& kind) const {
    if (targets == 0) return;
    std::cout << absl::StrFormat("| %s | %d | %.2f | %.2f | %d / %d (%.0f%%) |\n", kind, targets, prompted / targets,
                                 other / targets, higher, targets, 100.0 * higher / targets);
  }
};

cv::Mat Tile(const cv::Mat& m, const std::string& caption) {
  cv::Mat t = m.clone();
  if (t.channels() == 1) cv::cvtColor(t, t, cv::COLOR_GRAY2BGR);
  cv::putText(t, caption, {6, 18}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
  return t;
}

// The scene's pair encoded once and decoded with each target as the mask
// prompt: the fused image and the three returned masks per target.
struct PerTarget {
  std::vector<cv::Mat> fused;
  std::vector<std::array<cv::Mat, MaskTally::kMasks>> returned;
};
absl::StatusOr<PerTarget> FuseEachTarget(api::FusionEngine& engine, const image::Scene& scene) {
  auto ir = image::ToImageData(scene.infrared), vis = image::ToImageData(scene.visible);
  auto enc = engine.Encode({{&ir, &vis, {}}});
  if (!enc.ok()) return enc.status();
  PerTarget p;
  p.fused.resize(scene.targets.size());
  p.returned.resize(scene.targets.size());
  for (size_t k = 0; k < scene.targets.size(); ++k) {
    const cv::Mat& m = scene.targets[k].mask;
    auto out = engine.Decode(
        {{(*enc)[0],
          std::vector<uint8_t>(m.data, m.data + m.total()),
          {api::Output::kFused, api::Output::kMask, api::Output::kMaskVisible, api::Output::kMaskInfrared}}});
    if (!out.ok()) return out.status();
    auto& r = (*out)[0];
    p.fused[k] = cv::Mat(m.rows, m.cols, CV_8UC1, r.fused.data()).clone();
    p.returned[k] = {cv::Mat(m.rows, m.cols, CV_8UC1, r.mask.data()).clone(),
                     cv::Mat(m.rows, m.cols, CV_8UC1, r.mask_vis.data()).clone(),
                     cv::Mat(m.rows, m.cols, CV_8UC1, r.mask_ir.data()).clone()};
  }
  return p;
}

// Contrast of each target when prompted against when another target (of
// the other class, of the same class) is, and where the returned masks lie.
// Sets `person`/`car` to a target of each class (-1: none).
void TallyScene(const image::Scene& scene, const PerTarget& p, Tally& other_class, Tally& same_class, MaskTally& masks,
                int& person, int& car) {
  const auto& fused = p.fused;
  const auto& returned = p.returned;
  const cv::Mat all = scene.AllTargets();
  person = car = -1;
  for (size_t k = 0; k < scene.targets.size(); ++k) {
    const auto& t = scene.targets[k];
    (t.label == "person" ? person : car) = int(k);
    const double prompted = quality::TargetContrast(fused[k], t.mask, all);
    cv::Mat same_rest(all.size(), CV_8UC1, cv::Scalar(0)), other_rest = same_rest.clone();
    for (size_t o = 0; o < scene.targets.size(); ++o)
      if (o != k) (scene.targets[o].label == t.label ? same_rest : other_rest) |= scene.targets[o].mask;
    const auto& got = returned[k];
    MaskTally::Add(masks.prompted, got, t.mask);
    if (cv::countNonZero(same_rest)) MaskTally::Add(masks.same, got, same_rest);
    if (cv::countNonZero(other_rest)) MaskTally::Add(masks.other[t.label], got, other_rest);
    for (const bool same : {false, true}) {
      // The next target (in scene order, wrapping) of the wanted kind.
      for (size_t step = 1; step < scene.targets.size(); ++step) {
        const size_t o = (k + step) % scene.targets.size();
        if ((scene.targets[o].label == t.label) != same) continue;
        (same ? same_class : other_class).Add(prompted, quality::TargetContrast(fused[o], t.mask, all));
        break;
      }
    }
  }
}

// The picture: a person prompt and a car prompt on one scene, side by side.
void WritePicture(const image::Scene& scene, const std::vector<cv::Mat>& fused, int person, int car) {
  const auto &a = scene.targets[size_t(person)], &b = scene.targets[size_t(car)];
  // Signed difference, amplified: where prompt A made the fused image
  // brighter than prompt B is light, darker is dark, equal is mid-grey.
  cv::Mat diff;
  cv::Mat(fused[size_t(person)]).convertTo(diff, CV_16S);
  diff -= cv::Mat_<int16_t>(fused[size_t(car)]);
  diff.convertTo(diff, CV_8U, 8.0, 128.0);
  std::vector<cv::Mat> row = {Tile(scene.infrared, "infrared"),     Tile(scene.visible, "visible"),
                              Tile(a.mask, "prompt A: person"),     Tile(fused[size_t(person)], "fused, prompt A"),
                              Tile(b.mask, "prompt B: car"),        Tile(fused[size_t(car)], "fused, prompt B"),
                              Tile(diff, "A - B (x8, grey = same)")};
  cv::Mat pic;
  cv::hconcat(row, pic);
  cv::imwrite(absl::GetFlag(FLAGS_picture), pic);
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
  // Two comparisons per target T: against a target of the other class and
  // against another target of the same class. The release's prompt encoder
  // describes the prompt by appearance (a masked-average prototype and a
  // cosine-similarity map; the tokens carry no position), so it can tell a
  // person from a car but not one person from a look-alike person.
  Tally other_class, same_class;
  MaskTally masks;
  bool picture_done = false;
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    auto scene = image::GenerateScene(image::SceneOptionsFor(absl::GetFlag(FLAGS_seed), i, absl::GetFlag(FLAGS_width),
                                                             absl::GetFlag(FLAGS_height), 8));
    if (scene.targets.size() < 2) continue;
    auto per_target = FuseEachTarget(**engine, scene);
    if (!per_target.ok()) return 1;
    int person = -1, car = -1;
    TallyScene(scene, *per_target, other_class, same_class, masks, person, car);
    if (!picture_done && person >= 0 && car >= 0 &&
        quality::Apart(scene.targets[size_t(person)].mask, scene.targets[size_t(car)].mask)) {
      WritePicture(scene, per_target->fused, person, car);
      picture_done = true;
    }
  }
  if (other_class.targets + same_class.targets == 0) return 1;
  std::cout << "| other target prompted | targets | mean contrast when prompted | mean contrast when the other is "
               "prompted | prompted higher |\n";
  std::cout << "|---|---|---|---|---|\n";
  other_class.Print("of the other class");
  same_class.Print("of the same class");
  masks.Print();
  return 0;
}
