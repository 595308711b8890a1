#include "model/grounding/postprocess.h"

#include <algorithm>
#include <numeric>

namespace ctrlfuse::model::grounding {
namespace {

float Iou(const Detection& a, const Detection& b) {
  const float w = std::max(0.f, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const float h = std::max(0.f, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  const float inter = w * h;
  const float uni = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return uni > 0 ? inter / uni : 0.f;
}

}  // namespace

std::vector<Detection> Detect(const torch::Tensor& logits, const torch::Tensor& boxes, const TokenizedCaption& caption,
                              const BertTokenizer& tokenizer, const DetectionOptions& options, float image_w,
                              float image_h) {
  const torch::Tensor probs = logits.to(torch::kCPU, torch::kFloat).sigmoid().contiguous();
  const torch::Tensor cxcywh = boxes.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t queries = probs.size(0), tokens = probs.size(1);
  const auto p = probs.accessor<float, 2>();
  const auto bx = cxcywh.accessor<float, 2>();
  std::vector<Detection> out;
  for (int64_t q = 0; q < queries; ++q) {
    float best = 0;
    for (int64_t t = 0; t < tokens; ++t) best = std::max(best, p[q][t]);
    if (!(best > options.box_threshold)) continue;
    std::vector<int> positions;
    for (int64_t t = 0; t < tokens; ++t)
      if (p[q][t] > options.text_threshold) positions.push_back(static_cast<int>(t));
    Detection d;
    d.x0 = (bx[q][0] - bx[q][2] / 2) * image_w;
    d.y0 = (bx[q][1] - bx[q][3] / 2) * image_h;
    d.x1 = (bx[q][0] + bx[q][2] / 2) * image_w;
    d.y1 = (bx[q][1] + bx[q][3] / 2) * image_h;
    d.score = best;
    d.phrase = PhraseFromPositions(tokenizer, caption, positions);
    d.query = static_cast<int>(q);
    out.push_back(std::move(d));
  }
  if (options.nms_iou <= 0 || out.size() < 2) return out;
  std::vector<size_t> order(out.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return out[a].score > out[b].score; });
  std::vector<bool> dropped(out.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    if (dropped[order[i]]) continue;
    for (size_t j = i + 1; j < order.size(); ++j)
      if (!dropped[order[j]] && Iou(out[order[i]], out[order[j]]) > options.nms_iou) dropped[order[j]] = true;
  }
  std::vector<Detection> kept;
  for (size_t i = 0; i < out.size(); ++i)
    if (!dropped[i]) kept.push_back(std::move(out[i]));
  return kept;
}

}  // namespace ctrlfuse::model::grounding
