#include "image/scenes.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <random>

namespace ctrlfuse::image {
namespace {

// Smooth value noise in [0,1]: random coarse grid upsampled bicubically.
cv::Mat SmoothNoise(std::mt19937_64& rng, int w, int h, int cell) {
  std::uniform_real_distribution<float> u(0.f, 1.f);
  cv::Mat coarse(std::max(2, h / cell + 2), std::max(2, w / cell + 2), CV_32F);
  for (int y = 0; y < coarse.rows; ++y)
    for (int x = 0; x < coarse.cols; ++x) coarse.at<float>(y, x) = u(rng);
  cv::Mat fine;
  cv::resize(coarse, fine, cv::Size(w + 2 * cell, h + 2 * cell), 0, 0, cv::INTER_CUBIC);
  return fine(cv::Rect(cell, cell, w, h)).clone();
}

void AddNoise(std::mt19937_64& rng, cv::Mat& img32, float sigma) {
  std::normal_distribution<float> n(0.f, sigma);
  for (auto it = img32.begin<float>(); it != img32.end<float>(); ++it) *it += n(rng);
}

}  // namespace

cv::Mat Scene::AllTargets() const {
  cv::Mat all(visible.size(), CV_8UC1, cv::Scalar(0));
  for (const auto& t : targets) all |= t.mask;
  return all;
}

SceneOptions SceneOptionsFor(uint64_t base_seed, int index, int width, int height, int ir_bit_depth) {
  SceneOptions o;
  o.seed = base_seed * 1000003ULL + uint64_t(index);
  o.width = width;
  o.height = height;
  o.night = index % 2 == 0;
  o.ir_bit_depth = ir_bit_depth;
  o.num_people = 1 + index % 3;
  o.num_vehicles = index % 4 == 3 ? 0 : 1;
  return o;
}

namespace {

// Sky and ground, buildings with windows along the horizon, lane markings:
// texture and edges in the visible image, smooth temperatures in infrared.
void PaintBackground(std::mt19937_64& rng, const SceneOptions& o, int horizon, cv::Mat& vis, cv::Mat& ir) {
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int w = o.width, h = o.height;
  const float light = o.night ? 0.18f : 0.75f;
  cv::Mat tex = SmoothNoise(rng, w, h, 6), tex2 = SmoothNoise(rng, w, h, 24);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float t = tex.at<float>(y, x), t2 = tex2.at<float>(y, x);
      cv::Vec3f c;
      float temp;
      if (y < horizon) {  // sky: smooth gradient; cold in infrared
        const float g = float(y) / horizon;
        c = o.night ? cv::Vec3f(0.12f + 0.05f * g, 0.08f, 0.06f) : cv::Vec3f(0.85f - 0.2f * g, 0.7f - 0.1f * g, 0.55f);
        temp = 0.12f + 0.05f * g;
      } else {  // road/ground: asphalt texture, visible only
        c = cv::Vec3f(0.35f, 0.36f, 0.38f) * (0.7f + 0.6f * t) * (light / 0.5f) * 0.8f;
        temp = 0.38f + 0.04f * t2;  // warm-ish, smooth: no texture in infrared
      }
      vis.at<cv::Vec3f>(y, x) = c;
      ir.at<float>(y, x) = temp;
    }
  }
  // Buildings along the horizon: sharp edges and windows in the visible image.
  for (int bx = 0; bx < w;) {
    const int bw = 20 + int(u(rng) * 40), bh = int(horizon * (0.3f + 0.6f * u(rng)));
    const cv::Rect r(bx, horizon - bh, std::min(bw, w - bx), bh);
    const float shade = 0.25f + 0.4f * u(rng);
    cv::rectangle(vis, r, cv::Scalar::all(shade * (o.night ? 0.4f : 1.f)), cv::FILLED);
    cv::rectangle(ir, r, cv::Scalar(0.2f + 0.05f * u(rng)), cv::FILLED);
    for (int wy = r.y + 4; wy + 4 < r.y + r.height; wy += 9)
      for (int wx = r.x + 3; wx + 4 < r.x + r.width; wx += 8) {
        const bool lit = u(rng) < (o.night ? 0.3f : 0.0f);
        cv::rectangle(vis, cv::Rect(wx, wy, 4, 5), lit ? cv::Scalar(0.4f, 0.8f, 0.95f) : cv::Scalar::all(shade * 0.5f),
                      cv::FILLED);
      }
    bx += bw + int(u(rng) * 6);
  }
  // Lane markings: visible only (paint has the asphalt's temperature).
  for (int x = int(u(rng) * 30); x < w; x += 45)
    cv::line(vis, {x, h - 10}, {x + 18, h - 10}, cv::Scalar::all(o.night ? 0.5f : 0.95f), 2);
}

// Adds one target (its parts; the first an ellipse for a head) to the
// scene: its mask, warm and uniform in infrared, dim or camouflaged in the
// visible image.
class TargetPainter {
 public:
  TargetPainter(std::mt19937_64& rng, const SceneOptions& o, cv::Mat& vis, cv::Mat& ir, Scene& scene)
      : rng_(rng), o_(o), vis_(vis), ir_(ir), scene_(scene) {}

  void Add(const std::string& label, const std::vector<cv::Rect>& parts, bool ellipse_head) {
    std::mt19937_64& rng = rng_;
    std::uniform_real_distribution<float> u(0.f, 1.f);
    const SceneOptions& o = o_;
    cv::Mat &vis = vis_, &ir = ir_;
    const int w = o.width, h = o.height;
    cv::Mat m(h, w, CV_8UC1, cv::Scalar(0));
    for (size_t k = 0; k < parts.size(); ++k) {
      if (ellipse_head && k == 0) {
        cv::ellipse(m, (parts[k].tl() + parts[k].br()) / 2, parts[k].size() / 2, 0, 0, 360, cv::Scalar(255),
                    cv::FILLED);
      } else {
        cv::rectangle(m, parts[k], cv::Scalar(255), cv::FILLED);
      }
    }
    cv::Rect box = cv::boundingRect(m);
    if (box.area() == 0) return;
    // Warm and nearly uniform in infrared.
    const float warm = label == "person" ? 0.85f + 0.1f * u(rng) : 0.7f + 0.1f * u(rng);
    ir.setTo(cv::Scalar(warm), m);
    // Visible: dim at night; at day camouflaged (close to the ground colour)
    // or washed out by glare.
    cv::Scalar colour;
    if (o.night) {
      colour = cv::Scalar::all(0.06f + 0.05f * u(rng));
    } else {
      const cv::Vec3f bg = vis.at<cv::Vec3f>(std::min(h - 1, box.br().y), std::min(w - 1, box.x + box.width / 2));
      colour = cv::Scalar(bg[0] * 1.05f, bg[1] * 1.02f, bg[2] * 0.97f);
    }
    vis.setTo(colour, m);
    scene_.targets.push_back({label, box, m});
  }

 private:
  std::mt19937_64& rng_;
  const SceneOptions& o_;
  cv::Mat &vis_, &ir_;
  Scene& scene_;
};

// Cars (with headlight glare at night) and people on the ground.
void AddTargets(std::mt19937_64& rng, const SceneOptions& o, int horizon, cv::Mat& vis, TargetPainter& painter) {
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int w = o.width, h = o.height;
  const int ground = h - horizon;
  for (int i = 0; i < o.num_vehicles; ++i) {
    const int cw = int(w * (0.18f + 0.08f * u(rng))), ch = int(cw * 0.45f);
    const int cx = int(u(rng) * (w - cw)), cy = horizon + int(ground * (0.2f + 0.5f * u(rng)));
    const int cyc = std::min(cy, h - ch - 1);
    painter.Add("car", {cv::Rect(cx, cyc + ch / 3, cw, ch * 2 / 3), cv::Rect(cx + cw / 5, cyc, cw * 3 / 5, ch / 2)},
                false);
    if (o.night) {  // headlight glare: a bright blob in the visible image only
      cv::circle(vis, {cx + (u(rng) < 0.5f ? 3 : cw - 3), cyc + ch * 2 / 3}, 4 + int(u(rng) * 6),
                 cv::Scalar(0.9, 0.97, 1.0), cv::FILLED);
    }
  }
  for (int i = 0; i < o.num_people; ++i) {
    const int ph = int(h * (0.18f + 0.1f * u(rng))), pw = std::max(4, ph / 3);
    const int px = int(u(rng) * (w - pw)),
              py = std::min(h - ph - 1, horizon + int(ground * (0.1f + 0.6f * u(rng))) - ph / 3);
    const int head = std::max(3, pw * 2 / 3);
    painter.Add("person", {cv::Rect(px + (pw - head) / 2, py, head, head), cv::Rect(px, py + head, pw, ph - head)},
                true);
  }
}

}  // namespace

Scene GenerateScene(const SceneOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int w = o.width, h = o.height;
  const int horizon = int(h * (0.35f + 0.1f * u(rng)));
  cv::Mat vis(h, w, CV_32FC3);
  cv::Mat ir(h, w, CV_32F);  // temperature-like, in [0,1]
  PaintBackground(rng, o, horizon, vis, ir);
  Scene scene;
  TargetPainter painter(rng, o, vis, ir, scene);
  AddTargets(rng, o, horizon, vis, painter);
  // Targets drawn later occlude earlier ones: keep masks disjoint.
  for (size_t i = 0; i < scene.targets.size(); ++i)
    for (size_t j = i + 1; j < scene.targets.size(); ++j) scene.targets[i].mask &= ~scene.targets[j].mask;

  // Optics: infrared is blurrier than visible.
  cv::GaussianBlur(ir, ir, cv::Size(3, 3), 0.8);
  AddNoise(rng, vis, 0.012f);
  AddNoise(rng, ir, 0.008f);

  cv::Mat vis8;
  vis.convertTo(vis8, CV_8UC3, 255.0);
  scene.visible = vis8;
  if (o.ir_bit_depth == 16) {
    // Radiometric-style counts: a narrow band of the 16-bit range.
    ir.convertTo(scene.infrared, CV_16UC1, 4000.0, 20000.0);
  } else {
    ir.convertTo(scene.infrared, CV_8UC1, 255.0);
  }
  return scene;
}

}  // namespace ctrlfuse::image
