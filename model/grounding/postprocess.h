// The official predict path after the network (groundingdino/util/
// inference.py's predict, as Grounded-SAM uses it): score = the best
// token's sigmoid, boxes kept above box_threshold, each box's phrase from
// its tokens above text_threshold, boxes to pixels. Optional greedy NMS
// (off by default, as the official path; one Grounded-SAM demo uses 0.8).
// Pure functions; thread-safe.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/grounding/tokenizer.h"

namespace ctrlfuse::model::grounding {

struct DetectionOptions {
  float box_threshold = 0.35f;
  float text_threshold = 0.25f;
  float nms_iou = 0;  // 0: no NMS (official); else greedy NMS at this IoU
};

struct Detection {
  float x0, y0, x1, y1;  // pixels of the image the boxes are scaled to
  float score;           // max over tokens of sigmoid(logit)
  std::string phrase;    // words of the tokens above text_threshold
  int query;             // the decoder query it came from
};

// logits [Q,max_text_len] and boxes [Q,4] (cx,cy,w,h in [0,1]) of one image;
// `caption` the tokenized caption the logits refer to. Detections in query
// order (the official order), NMS (when on) keeping the higher score.
std::vector<Detection> Detect(const torch::Tensor& logits, const torch::Tensor& boxes, const TokenizedCaption& caption,
                              const BertTokenizer& tokenizer, const DetectionOptions& options, float image_w,
                              float image_h);

}  // namespace ctrlfuse::model::grounding
