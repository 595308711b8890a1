// Quality-metrics benchmark: every metric for one 640x480 triple (a
// synthetic scene and its average fusion), median of 10 runs, per metric.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "image/scenes.h"
#include "quality/metrics.h"

int main() {
  using namespace ctrlfuse;
  image::SceneOptions o;
  o.width = 640;
  o.height = 480;
  auto s = image::GenerateScene(o);
  cv::Mat vis_grey;
  cv::Mat fused;
  cv::addWeighted(quality::ToGrey255(s.infrared), 0.5, quality::ToGrey255(s.visible), 0.5, 0, fused);
  fused.convertTo(fused, CV_8U);
  double total = 0;
  std::printf("| metric | ms |\n|---|---|\n");
  for (const auto& name : quality::MetricNames()) {
    std::vector<double> t;
    for (int r = 0; r < 10; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      quality::Compute(s.infrared, s.visible, fused, {name});
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    std::printf("| %s | %.2f |\n", name.c_str(), t[5]);
    total += t[5];
  }
  std::vector<double> all;
  for (int r = 0; r < 10; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    quality::Compute(s.infrared, s.visible, fused, quality::MetricNames());
    all.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(all.begin(), all.end());
  std::printf("| **all 13 (one call)** | **%.2f** |\n", all[5]);
  return 0;
}
