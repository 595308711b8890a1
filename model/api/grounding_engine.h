// The torch-free interface through which the server runs GroundingDINO
// (text prompts, Grounded-SAM's first step): a caption and an image in,
// boxes with scores and phrases out, as the official predict path. The
// caption's text encoding (BERT, the costly part of a short caption) is
// cached per prepared caption: a video stream sends the same caption every
// frame. Errors are absl::Status values; LibTorch exceptions stop here.
//
// Thread-safety: Create() returns an engine whose ValidateCaption, Detect
// and text_cache_stats may run concurrently from any number of threads (the
// cache is guarded by a mutex; the network has no mutable state).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/api/fusion_engine.h"

namespace ctrlfuse::api {

struct GroundingOptions {
  // The official groundingdino_swint_ogc.pth (or a state_dict of the same
  // layout); empty: seeded random weights (tests and demos only).
  std::string checkpoint;
  std::string config = "swint_ogc";  // swint_ogc (the release), tiny
  std::string vocab;                 // bert-base-uncased vocab.txt; required
  std::string device = "cpu";        // fp32 on any device
  uint64_t seed = 0;
  size_t text_cache_entries = 64;  // captions whose text encoding is kept
  // Concurrent Detect calls are run as one batch of up to max_batch images
  // (those whose model input shares a size; the rest in their own forward):
  // the first caller waits up to batch_window_ms for others. 1: no batching.
  size_t max_batch = 4;
  double batch_window_ms = 5;
  bool flush_denormals = true;  // as EngineOptions::flush_denormals
};

struct GroundingQuery {
  std::string caption;
  float box_threshold = 0.35f;  // the official defaults
  float text_threshold = 0.25f;
  float nms_iou = 0;  // 0: no NMS (official); else greedy NMS at this IoU
};

struct Detection {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixels of the image
  float score = 0;                       // max token probability
  std::string phrase;
};

struct GroundingResult {
  std::vector<Detection> detections;  // in the official (query) order
  bool text_cache_hit = false;
};

struct GroundingInfo {
  std::string config, checkpoint, checkpoint_kind, device, vocab;
  int64_t num_parameters = 0;
  int queries = 0;
};

class GroundingEngine {
 public:
  static absl::StatusOr<std::unique_ptr<GroundingEngine>> Create(const GroundingOptions& options);
  virtual ~GroundingEngine() = default;

  // OK, or INVALID_ARGUMENT saying what is wrong with the caption (invalid
  // UTF-8, empty, too long, no word); the caller names the field. No
  // network work: the tokenizer only.
  virtual absl::Status ValidateCaption(const std::string& caption) const = 0;

  // GroundingDINO on one image (grey or BGR, 8 or 16 bit; 16-bit samples
  // are scaled to 8 bits, as a viewer would show them): the official
  // preprocessing, the network, the predict path's thresholds. Errors:
  // INVALID_ARGUMENT, RESOURCE_EXHAUSTED (out of memory), INTERNAL.
  virtual absl::StatusOr<GroundingResult> Detect(const ImageData& image, const GroundingQuery& query) = 0;

  // Several images (each with its own caption and thresholds) in as few
  // network calls as their sizes allow: one per model-input size. Each
  // result is what Detect would return for it alone, to fp32 rounding.
  virtual absl::StatusOr<std::vector<GroundingResult>> DetectBatch(const std::vector<const ImageData*>& images,
                                                                   const std::vector<GroundingQuery>& queries) = 0;

  struct BatchStats {
    uint64_t calls = 0;   // network calls (image forwards)
    uint64_t images = 0;  // images they ran
    size_t largest = 0;   // largest batch so far
  };
  virtual BatchStats batch_stats() const = 0;
  struct CacheStats {
    uint64_t hits = 0, misses = 0;
    size_t entries = 0;
  };
  virtual CacheStats text_cache_stats() const = 0;
  virtual const GroundingInfo& info() const = 0;
};

}  // namespace ctrlfuse::api
