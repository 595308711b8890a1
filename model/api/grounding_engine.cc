#include "model/api/grounding_engine.h"

#include <torch/torch.h>

#include <list>
#include <mutex>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "model/device.h"
#include "model/grounding/grounding_checkpoint.h"
#include "model/grounding/postprocess.h"
#include "model/grounding/preprocess.h"

namespace ctrlfuse::api {
namespace {

namespace g = model::grounding;

// The image as the official loader sees it: 8-bit RGB, [H,W,3].
torch::Tensor ToRgb8(const ImageData& img) {
  const int64_t h = img.height, w = img.width, c = img.channels;
  torch::Tensor t;
  if (img.bit_depth == 8) {
    t = torch::from_blob(const_cast<uint8_t*>(img.bytes.data()), {h, w, c}, torch::kUInt8).clone();
  } else {
    auto wide = torch::empty({h, w, c}, torch::kInt32);
    const auto* src = reinterpret_cast<const uint16_t*>(img.bytes.data());
    auto* dst = wide.data_ptr<int32_t>();
    for (int64_t i = 0; i < h * w * c; ++i) dst[i] = (src[i] * 255 + 32767) / 65535;
    t = wide.to(torch::kUInt8);
  }
  if (c == 1) return t.expand({h, w, 3}).contiguous();
  return t.flip(2).contiguous();  // BGR -> RGB
}

class TorchGroundingEngine : public GroundingEngine {
 public:
  TorchGroundingEngine(g::GroundingDino model, std::shared_ptr<const g::BertTokenizer> tokenizer, torch::Device device,
                       size_t cache_entries, GroundingInfo info)
      : model_(std::move(model)),
        tokenizer_(std::move(tokenizer)),
        device_(device),
        cache_entries_(cache_entries),
        info_(std::move(info)) {}

  absl::Status ValidateCaption(const std::string& caption) const override {
    std::string error;
    if (!g::TokenizeCaption(*tokenizer_, caption, &error)) return absl::InvalidArgumentError(error);
    return absl::OkStatus();
  }

  absl::StatusOr<GroundingResult> Detect(const ImageData& image, const GroundingQuery& query) override {
    if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
        (image.bit_depth != 8 && image.bit_depth != 16) || image.bytes.size() != image.ExpectedBytes())
      return absl::InvalidArgumentError("grounding: malformed image");
    std::string error;
    const auto caption = g::TokenizeCaption(*tokenizer_, query.caption, &error);
    if (!caption) return absl::InvalidArgumentError(error);
    try {
      torch::InferenceMode guard;
      GroundingResult result;
      const g::TextState text = Text(*caption, &result.text_cache_hit);
      const torch::Tensor input = g::GroundingImageTensor(ToRgb8(image)).unsqueeze(0).to(device_);
      const g::GroundingOutput out = model_->forward(input, torch::Tensor(), text);
      g::DetectionOptions options;
      options.box_threshold = query.box_threshold;
      options.text_threshold = query.text_threshold;
      for (const g::Detection& d : g::Detect(out.logits[0], out.boxes[0], *caption, *tokenizer_, options,
                                             static_cast<float>(image.width), static_cast<float>(image.height)))
        result.detections.push_back({d.x0, d.y0, d.x1, d.y1, d.score, d.phrase});
      return result;
    } catch (const c10::OutOfMemoryError& e) {
      return absl::ResourceExhaustedError(
          absl::StrCat("grounding: out of device memory: ", e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("grounding: out of host memory");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("grounding failed: ", e.what()));
    }
  }

  CacheStats text_cache_stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return {hits_, misses_, lru_.size()};
  }
  const GroundingInfo& info() const override { return info_; }

 private:
  // The caption's text encoding, from the cache or computed (outside the
  // lock: two threads may compute one caption at once; the first stored wins).
  // Keyed by the token ids (the block mask and positions follow from them):
  // "car ." and "Car." are one caption.
  g::TextState Text(const g::TokenizedCaption& caption, bool* hit) {
    const std::string key(reinterpret_cast<const char*>(caption.input_ids.data()),
                          caption.input_ids.size() * sizeof(int64_t));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = index_.find(key); it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        ++hits_;
        *hit = true;
        return it->second->second;
      }
      ++misses_;
    }
    *hit = false;
    const g::TextState text = model_->EncodeText(g::BatchCaptions({&caption}, device_));
    if (cache_entries_ == 0) return text;
    std::lock_guard<std::mutex> lock(mu_);
    if (index_.count(key)) return text;
    lru_.emplace_front(key, text);
    index_[key] = lru_.begin();
    while (lru_.size() > cache_entries_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return text;
  }

  g::GroundingDino model_;
  std::shared_ptr<const g::BertTokenizer> tokenizer_;
  const torch::Device device_;
  const size_t cache_entries_;
  const GroundingInfo info_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, g::TextState>> lru_;  // (token-id bytes, encoding), most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, g::TextState>>::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GroundingEngine>> GroundingEngine::Create(const GroundingOptions& options) {
  g::GroundingDinoConfig config;
  if (!g::GroundingConfigByName(options.config, &config))
    return absl::InvalidArgumentError(
        absl::StrCat("grounding_config: unknown '", options.config, "' (swint_ogc or tiny)"));
  if (options.vocab.empty())
    return absl::InvalidArgumentError(
        "grounding_vocab: text prompts need BERT's bert-base-uncased vocab.txt (see the README)");
  std::string error;
  auto vocab = g::WordPieceVocabulary::Load(options.vocab, &error);
  if (!vocab) return absl::InvalidArgumentError(absl::StrCat("grounding_vocab: ", error));
  if (vocab->size() > config.bert.vocab_size)
    return absl::InvalidArgumentError(absl::StrCat("grounding_vocab: ", vocab->size(), " tokens, but BERT has ",
                                                   config.bert.vocab_size, " embeddings"));
  model::Placement placement;
  if (auto err = model::ParsePlacement(options.device, "fp32", &placement); !err.empty())
    return absl::InvalidArgumentError(err);
  try {
    torch::manual_seed(options.seed);
    g::GroundingDino model(config);
    GroundingInfo info;
    info.checkpoint_kind = "seeded-random";
    if (!options.checkpoint.empty()) {
      g::LoadOfficialGroundingDino(*model, options.checkpoint);
      info.checkpoint_kind = "groundingdino-official";
    }
    model->eval();
    model->to(placement.device);
    for (const auto& p : model->parameters()) info.num_parameters += p.numel();
    info.config = config.name;
    info.checkpoint = options.checkpoint;
    info.device = placement.device.str();
    info.vocab = options.vocab;
    info.queries = config.queries;
    auto tokenizer =
        std::make_shared<const g::BertTokenizer>(std::make_shared<const g::WordPieceVocabulary>(std::move(*vocab)));
    return std::unique_ptr<GroundingEngine>(new TorchGroundingEngine(
        std::move(model), std::move(tokenizer), placement.device, options.text_cache_entries, std::move(info)));
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(absl::StrCat("loading GroundingDINO: ", e.what()));
  }
}

}  // namespace ctrlfuse::api
