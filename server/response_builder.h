// Last pipeline stage: the engine's planes (at the bucket's size) become a
// FuseResponse: cropped back to the request's size, encoded as asked (masks
// never lossy), quality metrics computed on request.
//
// Thread-safety: immutable after construction; Build may run on many
// handler threads at once. `metrics` is borrowed.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"
#include "model/api/fusion_engine.h"
#include "server/metrics.h"
#include "server/request_parser.h"

namespace ctrlfuse::server {

// Computes the named quality metrics for (ir, vis, fused) as decoded (8- or
// 16-bit, grey or colour: the quality library converts, as ctrlfuse-eval does).
using QualityFn = std::function<std::map<std::string, double>(
    const cv::Mat& ir, const cv::Mat& vis, const cv::Mat& fused, const std::vector<std::string>& names)>;

// The planes Decode must return for `output` (only those are copied).
std::vector<api::Output> WantedOutputs(const OutputOptions& output);

class ResponseBuilder {
 public:
  ResponseBuilder(QualityFn quality, Metrics* metrics) : quality_(std::move(quality)), metrics_(metrics) {}

  // `prompt_mask`: the mask the network received (CV_8UC1, request size),
  // or empty for none.
  absl::StatusOr<v1::FuseResponse> Build(const ParsedRequest& request, const cv::Mat& prompt_mask,
                                         const api::FusedImage& fused) const;

 private:
  const QualityFn quality_;
  Metrics* const metrics_;
};

}  // namespace ctrlfuse::server
