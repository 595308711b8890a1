#include "server/warmup.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "image/image_data.h"

namespace ctrlfuse::server {

absl::Status Warmup(api::FusionEngine& engine, const std::vector<cv::Size>& buckets, size_t max_batch_size,
                    const WarmupProgress& progress) {
  WarmupStep step;
  step.total = buckets.size() * max_batch_size;
  for (const auto& size : buckets) {
    cv::Mat grey(size, CV_8UC1, cv::Scalar(128)), colour(size, CV_8UC3, cv::Scalar(90, 120, 150));
    cv::randu(grey, 0, 255);
    auto ir = image::ToImageData(grey), vis = image::ToImageData(colour);
    for (size_t b = 1; b <= max_batch_size; ++b) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<api::EncodeInput> in(b, api::EncodeInput{&ir, &vis, {}});
      auto enc = engine.Encode(in);
      if (!enc.ok()) return enc.status();
      std::vector<api::DecodeRequest> dec;
      for (auto& e : *enc)
        dec.push_back({e,
                       {},
                       {api::Output::kFused, api::Output::kFusedColour, api::Output::kMask, api::Output::kMaskVisible,
                        api::Output::kMaskInfrared}});
      if (auto out = engine.Decode(dec); !out.ok()) return out.status();
      ++step.index;
      step.size = size;
      step.batch_size = b;
      step.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (progress && !progress(step))
        return absl::CancelledError(absl::StrCat("warm-up stopped after step ", step.index, " of ", step.total));
    }
  }
  return absl::OkStatus();
}

}  // namespace ctrlfuse::server
