// Test double: a FusionEngine without a network, for the server tests
// whose subject is scheduling (a busy executor, a full queue, deadlines,
// cancellation, warm-up) rather than pixels. Encode calls can be held at a
// gate, so a test makes "the model is busy" happen instead of hoping a big
// request takes long enough. Outputs are simple and deterministic: fused =
// the mean of infrared and visible (grey), every predicted mask = the mask
// prompt. It can also stand in for an engine that runs out of memory
// above a batch size or an image size (SetMemoryLimit), a fault the tests
// cannot cause on a real engine.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "model/api/fusion_engine.h"

namespace ctrlfuse::testing {

class FakeFusionEngine : public api::FusionEngine {
 public:
  FakeFusionEngine() {
    info_.config = "fake";
    info_.device = "cpu";
    info_.precision = "fp32";
    info_.checkpoint_kind = "test-double";
  }

  // From now on Encode calls wait at the gate until Release().
  void Hold() {
    absl::MutexLock l(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock l(&mu_);
    held_ = false;
  }
  // Blocks until `n` Encode calls wait at the gate.
  void WaitUntilWaiting(int n) {
    const auto enough = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return waiting_ >= n; };
    absl::MutexLock l(&mu_, absl::Condition(&enough));
  }
  // From now on Encode and Decode fail with RESOURCE_EXHAUSTED, as an
  // engine out of memory does, for batches over `max_batch` or holding a
  // pair over `max_pixels`.
  // `decode_only`: Encode is not limited (the decode runs out).
  void SetMemoryLimit(size_t max_batch, int64_t max_pixels, bool decode_only = false) {
    absl::MutexLock l(&mu_);
    max_batch_ = max_batch;
    max_pixels_ = max_pixels;
    decode_only_ = decode_only;
  }
  // The sizes of the Encode and Decode calls so far, in order (the ones
  // that ran out of memory included).
  std::vector<size_t> encode_batches() const {
    absl::MutexLock l(&mu_);
    return encode_batches_;
  }
  std::vector<size_t> decode_batches() const {
    absl::MutexLock l(&mu_);
    return decode_batches_;
  }
  // Pairs decoded so far (warm-up included).
  int decoded() const {
    absl::MutexLock l(&mu_);
    return decoded_;
  }
  // Pairs encoded so far (warm-up included).
  int encoded() const {
    absl::MutexLock l(&mu_);
    return encoded_;
  }

  absl::StatusOr<std::vector<std::shared_ptr<const api::EncodedPair>>> Encode(
      const std::vector<api::EncodeInput>& batch) override {
    {
      absl::MutexLock l(&mu_);
      ++waiting_;
      mu_.Await(absl::Condition(
          +[](bool* held) { return !*held; }, &held_));
      --waiting_;
      encode_batches_.push_back(batch.size());
      const int64_t pixels = batch.empty() ? 0 : int64_t(batch[0].ir->width) * batch[0].ir->height;
      if (auto s = OutOfMemoryLocked(batch.size(), pixels); !decode_only_ && !s.ok()) return s;
      encoded_ += int(batch.size());
    }
    std::vector<std::shared_ptr<const api::EncodedPair>> out;
    for (const auto& in : batch) {
      if (in.ir->width != in.vis->width || in.ir->height != in.vis->height)
        return absl::InvalidArgumentError("Encode: sizes differ");
      auto p = std::make_shared<Pair>();
      p->ir = Grey(*in.ir);
      p->vis = Grey(*in.vis);
      p->w = in.ir->width;
      p->h = in.ir->height;
      out.push_back(std::move(p));
    }
    return out;
  }

  absl::StatusOr<std::vector<api::FusedImage>> Decode(const std::vector<api::DecodeRequest>& batch) override {
    {
      absl::MutexLock l(&mu_);
      decode_batches_.push_back(batch.size());
      const int64_t pixels = batch.empty() ? 0 : int64_t(batch[0].pair->width()) * batch[0].pair->height();
      if (auto s = OutOfMemoryLocked(batch.size(), pixels); !s.ok()) return s;
      decoded_ += int(batch.size());
    }
    std::vector<api::FusedImage> out;
    for (const auto& r : batch) {
      const auto* p = static_cast<const Pair*>(r.pair.get());
      api::FusedImage f;
      f.width = p->w;
      f.height = p->h;
      const size_t n = size_t(p->w) * size_t(p->h);
      std::vector<uint8_t> mask = r.mask.empty() ? std::vector<uint8_t>(n, 0) : r.mask;
      for (auto o : r.outputs) {
        switch (o) {
          case api::Output::kFused:
            f.fused.resize(n);
            for (size_t i = 0; i < n; ++i) f.fused[i] = uint8_t((p->ir[i] + p->vis[i] + 1) / 2);
            break;
          case api::Output::kMask:
            f.mask = mask;
            break;
          case api::Output::kMaskVisible:
            f.mask_vis = mask;
            break;
          case api::Output::kMaskInfrared:
            f.mask_ir = mask;
            break;
          case api::Output::kReference:
            f.i_ref = p->ir;
            break;
          case api::Output::kFusedColour:
            break;  // grey only
        }
      }
      out.push_back(std::move(f));
    }
    return out;
  }

  absl::StatusOr<std::vector<uint8_t>> SegmentVisible(const api::ImageData& vis,
                                                      const api::GeometricPrompt& prompt) override {
    std::vector<uint8_t> mask(size_t(vis.width) * size_t(vis.height), 0);
    for (const auto& b : prompt.boxes)
      for (int y = std::max(0, int(b.y0)); y < std::min(vis.height, int(b.y1)); ++y)
        for (int x = std::max(0, int(b.x0)); x < std::min(vis.width, int(b.x1)); ++x)
          mask[size_t(y * vis.width + x)] = 255;
    return mask;
  }

  const api::ModelInfo& info() const override { return info_; }

 private:
  struct Pair : api::EncodedPair {
    std::vector<uint8_t> ir, vis;
    int w = 0, h = 0;
    int width() const override { return w; }
    int height() const override { return h; }
    int64_t bytes() const override { return int64_t(ir.size() + vis.size()); }
  };

  // First channel, high byte for 16-bit: enough for a stand-in fusion.
  static std::vector<uint8_t> Grey(const api::ImageData& img) {
    const size_t n = size_t(img.width) * size_t(img.height), step = size_t(img.channels) * size_t(img.bit_depth / 8);
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = img.bytes[i * step + (img.bit_depth == 16 ? 1 : 0)];
    return out;
  }

  absl::Status OutOfMemoryLocked(size_t batch, int64_t pixels) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (batch > max_batch_ || pixels > max_pixels_)
      return absl::ResourceExhaustedError("out of memory (test double's limit)");
    return absl::OkStatus();
  }

  api::ModelInfo info_;
  mutable absl::Mutex mu_;
  size_t max_batch_ ABSL_GUARDED_BY(mu_) = SIZE_MAX;
  int64_t max_pixels_ ABSL_GUARDED_BY(mu_) = INT64_MAX;
  std::vector<size_t> encode_batches_ ABSL_GUARDED_BY(mu_), decode_batches_ ABSL_GUARDED_BY(mu_);
  int decoded_ ABSL_GUARDED_BY(mu_) = 0;
  bool decode_only_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int encoded_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ctrlfuse::testing
