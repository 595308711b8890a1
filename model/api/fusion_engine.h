// The narrow, torch-free interface through which the server (and tools) use
// the network. Images go in as host buffers; the prompt-independent work of
// a pair (Encode) is an opaque handle that can be cached and decoded with
// any number of masks later (Decode). Errors are absl::Status values;
// LibTorch exceptions stop here.
//
// Thread-safety: a FusionEngine holds one copy of the weights and no
// mutable state after Create(); Encode, Decode and SegmentVisible may run
// concurrently from any number of threads (the server's executors share
// one engine). EncodedPair handles are immutable and shareable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ir_normalization.h"

namespace ctrlfuse::api {

// An image in host memory: rows tightly packed, channels interleaved (BGR
// for colour, as OpenCV delivers it); 16-bit samples in native byte order.
struct ImageData {
  int width = 0, height = 0;
  int channels = 1;   // 1 or 3
  int bit_depth = 8;  // 8 or 16
  std::vector<uint8_t> bytes;

  size_t ExpectedBytes() const { return size_t(width) * size_t(height) * size_t(channels) * size_t(bit_depth / 8); }
};

struct EngineOptions {
  std::string config = "tiny";  // vit_h, vit_l, vit_b, tiny
  // Own, official CtrlFuse or official SAM file; empty = seeded weights.
  std::string checkpoint;
  uint64_t seed = 0;
  std::string device = "cpu";      // cpu, cuda, cuda:N
  std::string precision = "fp32";  // fp32; CUDA only: fp16, bf16 (cast), amp_fp16, amp_bf16 (autocast)
  int threads = 0;                 // LibTorch intra-op threads, 0 = all cores
  // CPU: subnormal floats flushed to zero during the engine's calls
  // (model::FlushDenormalsGuard); changes no output, saves their cost.
  bool flush_denormals = true;
};

struct PreprocessOptions {
  // How a 16-bit infrared frame becomes [0,1]; parsed (and validated) by
  // the caller with model::ParseIrNormalization.
  model::IrNormalization ir_normalization;
};

struct EncodeInput {
  const ImageData* ir = nullptr;
  const ImageData* vis = nullptr;
  PreprocessOptions options;
};

// Prompt-independent results for one image pair. Immutable and shareable
// between threads; bytes() is what it holds in (device) memory.
class EncodedPair {
 public:
  virtual ~EncodedPair() = default;
  virtual int width() const = 0;
  virtual int height() const = 0;
  virtual int64_t bytes() const = 0;
};

// The planes a decode can return. The network computes them all; only the
// ones asked for are copied to the host.
enum class Output {
  kFused,         // grey fusion
  kFusedColour,   // the visible chroma put back (when the visible image had colour)
  kMask,          // predicted masks, 0/255: union of both branches
  kMaskVisible,   //   visible branch
  kMaskInfrared,  //   infrared branch
  kReference,     // I_ref, the reference image
};

struct DecodeRequest {
  std::shared_ptr<const EncodedPair> pair;
  // width*height mask prompt, 0..255 (not binarised, as released). Empty
  // means no prompt: an all-zero mask, i.e. plain fusion with no target.
  std::vector<uint8_t> mask;
  std::vector<Output> outputs = {Output::kFused};
};

// One plane per Output asked for; the others stay empty.
struct FusedImage {
  int width = 0, height = 0;
  std::vector<uint8_t> fused;                    // grey, width*height
  std::vector<uint8_t> fused_bgr;                // colour (3 interleaved), when asked and possible
  std::vector<uint8_t> mask, mask_vis, mask_ir;  // 0/255 predicted masks
  std::vector<uint8_t> i_ref;                    // reference image
};

// SAM's geometric prompts, in pixels of the visible image.
struct Box {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};
struct Point {
  float x = 0, y = 0;
  bool foreground = true;  // false: a background point
};
struct GeometricPrompt {
  std::vector<Box> boxes;  // each box is its own SAM prompt (with all the points); masks are OR-ed
  std::vector<Point> points;
};

struct ModelInfo {
  std::string config, device, precision, checkpoint, checkpoint_kind;
  int sam_input = 0, num_queries = 0, feature_dim = 0;
  int64_t num_parameters = 0;
};

class FusionEngine {
 public:
  static absl::StatusOr<std::unique_ptr<FusionEngine>> Create(const EngineOptions& options);
  virtual ~FusionEngine() = default;

  // Errors: INVALID_ARGUMENT for inputs it cannot take, RESOURCE_EXHAUSTED
  // when it ran out of memory (CUDA or host; a smaller batch may fit),
  // INTERNAL for anything else LibTorch threw.

  // Encodes a batch of pairs that all share one size (infrared and visible
  // of equal size; any height/width, odd sizes are padded internally).
  virtual absl::StatusOr<std::vector<std::shared_ptr<const EncodedPair>>> Encode(
      const std::vector<EncodeInput>& batch) = 0;

  // Decodes a batch whose pairs all share one size.
  virtual absl::StatusOr<std::vector<FusedImage>> Decode(const std::vector<DecodeRequest>& batch) = 0;

  // SAM's standard path on the visible image: boxes and/or points -> a
  // width*height 0/255 mask.
  virtual absl::StatusOr<std::vector<uint8_t>> SegmentVisible(const ImageData& vis, const GeometricPrompt& prompt) = 0;

  virtual const ModelInfo& info() const = 0;
};

// INVALID_ARGUMENT naming `field` when `img` is empty, has a channel count
// or bit depth the engines do not take, or bytes that do not match its size.
absl::Status CheckImageData(const ImageData& img, const char* field);

// Names of the model configurations the engine knows.
std::vector<std::string> KnownConfigs();

}  // namespace ctrlfuse::api
