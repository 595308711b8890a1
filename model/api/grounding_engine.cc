#include "model/api/grounding_engine.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
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
                       const GroundingOptions& options, GroundingInfo info)
      : model_(std::move(model)),
        tokenizer_(std::move(tokenizer)),
        device_(device),
        cache_entries_(options.text_cache_entries),
        max_batch_(std::max<size_t>(1, options.max_batch)),
        window_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double, std::milli>(std::max(0.0, options.batch_window_ms)))),
        flush_denormals_(options.flush_denormals),
        info_(std::move(info)) {}

  absl::Status ValidateCaption(const std::string& caption) const override {
    std::string error;
    if (!g::TokenizeCaption(*tokenizer_, caption, &error)) return absl::InvalidArgumentError(error);
    return absl::OkStatus();
  }

  // Joins a batch: the first caller to find no batch forming leads it
  // (waits up to the window, or until max_batch have joined, then runs
  // them); the others wait for their result.
  absl::StatusOr<GroundingResult> Detect(const ImageData& image, const GroundingQuery& query) override {
    if (max_batch_ == 1) {
      auto r = DetectBatch({&image}, {query});
      if (!r.ok()) return r.status();
      return std::move(r->front());
    }
    // Checked before joining: one request's bad input never fails the
    // batch it would have shared with others.
    if (auto s = CheckImageData(image, "grounding image"); !s.ok()) return s;
    if (auto s = ValidateCaption(query.caption); !s.ok()) return s;
    auto mine = std::make_shared<Pending>(Pending{&image, query});
    std::unique_lock<std::mutex> lock(queue_mu_);
    queue_.push_back(mine);
    queue_cv_.notify_all();
    while (!mine->done) {
      if (leading_ || mine->taken) {  // a batch is forming, or mine runs in one
        queue_cv_.wait(lock, [&] { return mine->done || (!leading_ && !mine->taken); });
        continue;
      }
      leading_ = true;
      queue_cv_.wait_until(lock, std::chrono::steady_clock::now() + window_,
                           [&] { return queue_.size() >= max_batch_; });
      std::vector<std::shared_ptr<Pending>> batch;
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        batch.back()->taken = true;
        queue_.pop_front();
      }
      leading_ = false;  // the next arrival (or a waiter left over) leads the next batch
      queue_cv_.notify_all();
      lock.unlock();
      std::vector<const ImageData*> images;
      std::vector<GroundingQuery> queries;
      for (const auto& p : batch) images.push_back(p->image), queries.push_back(p->query);
      auto results = DetectBatch(images, queries);
      std::vector<absl::StatusOr<GroundingResult>> each;
      if (results.ok()) {
        for (auto& r : *results) each.emplace_back(std::move(r));
      } else {
        // Out of memory (or another failure) of the batch: each alone, so
        // one that fits still gets its answer.
        for (size_t i = 0; i < batch.size(); ++i) {
          auto alone = batch.size() > 1 ? DetectBatch({images[i]}, {queries[i]}) : results;
          each.push_back(alone.ok() ? absl::StatusOr<GroundingResult>(std::move(alone->front()))
                                    : absl::StatusOr<GroundingResult>(alone.status()));
        }
      }
      lock.lock();
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->result = std::move(each[i]);
        batch[i]->done = true;
      }
      queue_cv_.notify_all();
    }
    return std::move(mine->result);
  }

  absl::StatusOr<std::vector<GroundingResult>> DetectBatch(const std::vector<const ImageData*>& images,
                                                           const std::vector<GroundingQuery>& queries) override {
    if (images.size() != queries.size() || images.empty())
      return absl::InvalidArgumentError("grounding: one query per image, at least one");
    std::vector<g::TokenizedCaption> captions;
    for (size_t i = 0; i < images.size(); ++i) {
      if (auto s = CheckImageData(*images[i], "grounding image"); !s.ok()) return s;
      std::string error;
      auto caption = g::TokenizeCaption(*tokenizer_, queries[i].caption, &error);
      if (!caption) return absl::InvalidArgumentError(error);
      captions.push_back(std::move(*caption));
    }
    try {
      torch::InferenceMode guard;
      model::FlushDenormalsGuard flush(flush_denormals_);
      std::vector<GroundingResult> results(images.size());
      std::vector<g::TextState> texts;
      std::vector<torch::Tensor> inputs;
      for (size_t i = 0; i < images.size(); ++i) {
        texts.push_back(Text(captions[i], &results[i].text_cache_hit));
        inputs.push_back(g::GroundingImageTensor(ToRgb8(*images[i])));
      }
      // One forward per model-input size (padding would change the result).
      std::vector<bool> done(images.size(), false);
      for (size_t i = 0; i < images.size(); ++i) {
        if (done[i]) continue;
        std::vector<size_t> group;
        for (size_t j = i; j < images.size(); ++j)
          if (!done[j] && inputs[j].sizes() == inputs[i].sizes()) group.push_back(j), done[j] = true;
        std::vector<torch::Tensor> batch;
        std::vector<g::TextState> batch_text;
        for (size_t j : group) batch.push_back(inputs[j]), batch_text.push_back(texts[j]);
        const g::GroundingOutput out =
            model_->forward(torch::stack(batch).to(device_), torch::Tensor(), g::StackTextStates(batch_text));
        CountBatch(group.size());
        for (size_t k = 0; k < group.size(); ++k) {
          const size_t j = group[k];
          g::DetectionOptions options;
          options.box_threshold = queries[j].box_threshold;
          options.text_threshold = queries[j].text_threshold;
          options.nms_iou = queries[j].nms_iou;
          for (const g::Detection& d :
               g::Detect(out.logits[k], out.boxes[k], captions[j], *tokenizer_, options,
                         static_cast<float>(images[j]->width), static_cast<float>(images[j]->height)))
            results[j].detections.push_back({d.x0, d.y0, d.x1, d.y1, d.score, d.phrase});
        }
      }
      return results;
    } catch (const c10::OutOfMemoryError& e) {
      return absl::ResourceExhaustedError(
          absl::StrCat("grounding: out of device memory: ", e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("grounding: out of host memory");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("grounding failed: ", e.what()));
    }
  }

  BatchStats batch_stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_stats_;
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

  void CountBatch(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    ++batch_stats_.calls;
    batch_stats_.images += n;
    batch_stats_.largest = std::max(batch_stats_.largest, n);
  }

  // A Detect call waiting in (or for) a batch; guarded by queue_mu_.
  struct Pending {
    const ImageData* image;
    GroundingQuery query;
    bool taken = false;  // in a batch being run
    bool done = false;
    absl::StatusOr<GroundingResult> result = absl::InternalError("grounding: not run");
  };

  g::GroundingDino model_;
  std::shared_ptr<const g::BertTokenizer> tokenizer_;
  const torch::Device device_;
  const size_t cache_entries_, max_batch_;
  const std::chrono::steady_clock::duration window_;
  const bool flush_denormals_;
  const GroundingInfo info_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::shared_ptr<Pending>> queue_;  // joined, not yet taken into a batch
  bool leading_ = false;                        // a caller is gathering a batch
  mutable std::mutex mu_;
  BatchStats batch_stats_;
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
    return std::unique_ptr<GroundingEngine>(
        new TorchGroundingEngine(std::move(model), std::move(tokenizer), placement.device, options, std::move(info)));
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(absl::StrCat("loading GroundingDINO: ", e.what()));
  }
}

}  // namespace ctrlfuse::api
