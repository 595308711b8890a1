#include "server/fusion_pipeline.h"

#include <opencv2/imgproc.hpp>

#include <future>

#include "absl/strings/str_cat.h"
#include "image/codec.h"
#include "image/image_data.h"

namespace ctrlfuse::server {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

CacheKey PairKey(const api::ImageData& ir, const api::ImageData& vis, const std::string& norm) {
  ContentHasher h;
  for (const auto* img : {&ir, &vis}) {
    h.AddValue(img->width);
    h.AddValue(img->height);
    h.AddValue(img->channels);
    h.AddValue(img->bit_depth);
    h.Add(img->bytes.data(), img->bytes.size());
  }
  h.Add(norm);
  return h.Finish();
}

struct TaskResult {
  absl::Status status;
  api::FusedImage image;
  double compute_seconds = 0, queue_seconds = 0;
  int batch_size = 0;
  bool cache_hit = false;
};

class FuseTask : public BatchTask {
 public:
  api::ImageData ir, vis;
  std::vector<uint8_t> mask;
  bool colour = false;
  api::PreprocessOptions preprocess;
  CacheKey key;
  std::promise<TaskResult> promise;

  void Fail(const absl::Status& status) override {
    TaskResult r;
    r.status = status;
    promise.set_value(std::move(r));
  }
};

cv::Mat Pad(const cv::Mat& m, cv::Size to, int border) {
  if (m.size() == to) return m;
  cv::Mat out;
  cv::copyMakeBorder(m, out, 0, to.height - m.rows, 0, to.width - m.cols, border, cv::Scalar::all(0));
  return out;
}

absl::StatusOr<v1::Image> EncodeOutput(const cv::Mat& img, const ParsedRequest& p) {
  v1::Image out;
  if (p.encoding == v1::OUTPUT_ENCODING_RAW) {
    auto* raw = out.mutable_raw();
    raw->set_width(img.cols);
    raw->set_height(img.rows);
    raw->set_channels(img.channels());
    raw->set_bit_depth(8);
    cv::Mat c = img.isContinuous() ? img : img.clone();
    raw->set_pixels(c.data, c.total() * c.elemSize());
    return out;
  }
  auto bytes = p.encoding == v1::OUTPUT_ENCODING_JPEG ? image::EncodeJpeg(img, p.jpeg_quality) : image::EncodePng(img);
  if (!bytes.ok()) return bytes.status();
  out.set_encoded(std::move(*bytes));
  return out;
}

}  // namespace

FusionPipeline::FusionPipeline(api::FusionEngine* engine, PipelineOptions options, Metrics* metrics, Clock* clock)
    : engine_(engine),
      options_(std::move(options)),
      metrics_(metrics),
      clock_(clock),
      scheduler_(
          options_.batching, clock,
          [this](const BatchTask&, const absl::Status& s) {
            metrics_->CountFailure(absl::IsDeadlineExceeded(s) ? FailureReason::kDeadline : FailureReason::kCancelled);
          }),
      cache_(options_.cache_bytes) {}

FusionPipeline::~FusionPipeline() { Stop(); }

void FusionPipeline::Start() {
  if (started_.exchange(true)) return;
  for (int i = 0; i < std::max(1, options_.executors); ++i) executors_.emplace_back([this] { ExecutorLoop(); });
}

void FusionPipeline::Stop() {
  scheduler_.Shutdown();
  for (auto& t : executors_)
    if (t.joinable()) t.join();
  executors_.clear();
}

void FusionPipeline::ExecutorLoop() {
  while (auto batch = scheduler_.NextBatch()) {
    metrics_->queued->Set(double(scheduler_.queued()));
    RunBatch(*batch);
  }
}

cv::Size FusionPipeline::BucketFor(cv::Size size) const {
  const cv::Size* best = nullptr;
  for (const auto& b : options_.pad_buckets)
    if (b.width >= size.width && b.height >= size.height && (!best || b.area() < best->area())) best = &b;
  return best ? *best : size;
}

void FusionPipeline::RunBatch(Batch& batch) {
  const SteadyTime start = clock_->Now();
  std::vector<FuseTask*> tasks;
  for (auto& t : batch.tasks) tasks.push_back(static_cast<FuseTask*>(t.get()));
  std::vector<std::shared_ptr<const api::EncodedPair>> encodings(tasks.size());
  std::vector<bool> hit(tasks.size(), false);
  std::vector<api::EncodeInput> misses;
  std::vector<size_t> miss_index;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (options_.cache_bytes > 0) encodings[i] = cache_.Get(tasks[i]->key);
    hit[i] = encodings[i] != nullptr;
    if (options_.cache_bytes > 0) (hit[i] ? metrics_->cache_hits : metrics_->cache_misses)->Increment();
    if (!hit[i]) {
      // Two requests for the same pair in one batch encode once.
      bool dup = false;
      for (size_t k = 0; k < miss_index.size(); ++k)
        if (tasks[miss_index[k]]->key == tasks[i]->key) dup = true;
      if (!dup) {
        misses.push_back({&tasks[i]->ir, &tasks[i]->vis, tasks[i]->preprocess});
        miss_index.push_back(i);
      }
    }
  }
  absl::Status status;
  if (!misses.empty()) {
    auto enc = engine_->Encode(misses);
    if (!enc.ok()) {
      status = enc.status();
    } else {
      for (size_t k = 0; k < miss_index.size(); ++k) {
        encodings[miss_index[k]] = (*enc)[k];
        if (options_.cache_bytes > 0) cache_.Put(tasks[miss_index[k]]->key, (*enc)[k]);
      }
      for (size_t i = 0; i < tasks.size(); ++i)
        if (!encodings[i])
          for (size_t k : miss_index)
            if (tasks[k]->key == tasks[i]->key) encodings[i] = encodings[k];
    }
  }
  std::vector<api::FusedImage> images;
  if (status.ok()) {
    std::vector<api::DecodeRequest> decode;
    for (size_t i = 0; i < tasks.size(); ++i) decode.push_back({encodings[i], tasks[i]->mask, tasks[i]->colour});
    auto out = engine_->Decode(decode);
    if (out.ok()) images = std::move(*out);
    status = out.status();
  }
  const double compute = Seconds(clock_->Now() - start);
  metrics_->compute_seconds->Observe(compute);
  metrics_->batch_size->Observe(double(tasks.size()));
  metrics_->cache_bytes->Set(double(cache_.bytes()));
  for (size_t i = 0; i < tasks.size(); ++i) {
    TaskResult r;
    r.status = status;
    if (status.ok()) r.image = std::move(images[i]);
    r.compute_seconds = compute;
    r.queue_seconds = Seconds(start - tasks[i]->enqueued);
    r.batch_size = int(tasks.size());
    r.cache_hit = hit[i];
    metrics_->queue_seconds->Observe(r.queue_seconds);
    tasks[i]->promise.set_value(std::move(r));
  }
}

absl::Status FusionPipeline::Warmup(const std::vector<cv::Size>& sizes) {
  std::vector<cv::Size> buckets = options_.pad_buckets.empty() ? sizes : options_.pad_buckets;
  for (const auto& size : buckets) {
    cv::Mat grey(size, CV_8UC1, cv::Scalar(128)), colour(size, CV_8UC3, cv::Scalar(90, 120, 150));
    cv::randu(grey, 0, 255);
    auto ir = image::ToImageData(grey), vis = image::ToImageData(colour);
    for (size_t b = 1; b <= options_.batching.max_batch_size; ++b) {
      std::vector<api::EncodeInput> in(b, api::EncodeInput{&ir, &vis, {}});
      auto enc = engine_->Encode(in);
      if (!enc.ok()) return enc.status();
      std::vector<api::DecodeRequest> dec;
      for (auto& e : *enc) dec.push_back({e, {}, true});
      if (auto out = engine_->Decode(dec); !out.ok()) return out.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::FuseResponse> FusionPipeline::Fuse(const v1::FuseRequest& request, SteadyTime deadline,
                                                      std::function<bool()> cancelled) {
  const SteadyTime t0 = clock_->Now();
  auto parsed = ParseRequest(request, options_.limits, options_.known_metrics);
  if (!parsed.ok()) return parsed.status();
  ParsedRequest& p = *parsed;
  const SteadyTime t_decoded = clock_->Now();
  metrics_->decode_seconds->Observe(Seconds(t_decoded - t0));

  // Prompt: boxes and points become a mask through SAM on the visible image.
  if (p.prompt_kind == ParsedRequest::PromptKind::kBoxes || p.prompt_kind == ParsedRequest::PromptKind::kPoints) {
    auto mask = engine_->SegmentVisible(image::ToImageData(p.visible), p.boxes, p.points, p.point_labels);
    if (!mask.ok()) return mask.status();
    p.mask = cv::Mat(p.visible.rows, p.visible.cols, CV_8UC1, mask->data()).clone();
  }
  const cv::Size size = p.infrared.size(), bucket = BucketFor(size);
  auto task = std::make_shared<FuseTask>();
  task->bucket = {bucket.width, bucket.height};
  task->ir = image::ToImageData(Pad(p.infrared, bucket, cv::BORDER_REPLICATE));
  task->vis = image::ToImageData(Pad(p.visible, bucket, cv::BORDER_REPLICATE));
  if (!p.mask.empty()) {
    cv::Mat m = Pad(p.mask, bucket, cv::BORDER_CONSTANT);
    task->mask.assign(m.data, m.data + m.total());
  } else if (bucket != size) {
    task->mask.assign(size_t(bucket.area()), 0);
  }
  task->colour = p.colour;
  task->preprocess.ir_normalization = p.ir_normalization;
  task->key = PairKey(task->ir, task->vis, p.ir_normalization);
  task->deadline = deadline;
  task->cancelled = std::move(cancelled);
  if (bucket != size) metrics_->padding_ratio->Observe(1.0 - double(size.area()) / double(bucket.area()));
  const SteadyTime t_prepared = clock_->Now();
  metrics_->preprocess_seconds->Observe(Seconds(t_prepared - t_decoded));

  auto future = task->promise.get_future();
  if (auto s = scheduler_.Schedule(task); !s.ok()) {
    metrics_->CountFailure(FailureReason::kRejected);
    return s;
  }
  metrics_->queued->Set(double(scheduler_.queued()));
  TaskResult r = future.get();
  if (!r.status.ok()) return r.status;

  const SteadyTime t_computed = clock_->Now();
  api::FusedImage& f = r.image;
  const cv::Rect crop(0, 0, size.width, size.height);
  auto plane = [&](std::vector<uint8_t>& v, int channels) {
    return cv::Mat(f.height, f.width, CV_8UC(channels), v.data())(crop).clone();
  };
  v1::FuseResponse resp;
  resp.set_id(request.id());
  cv::Mat fused_grey = plane(f.fused, 1);
  cv::Mat fused = p.colour && !f.fused_bgr.empty() ? plane(f.fused_bgr, 3) : fused_grey;
  auto img = EncodeOutput(fused, p);
  if (!img.ok()) return img.status();
  *resp.mutable_fused() = std::move(*img);
  for (auto kind : p.return_masks) {
    cv::Mat m;
    switch (kind) {
      case v1::MASK_KIND_FUSED:
        m = plane(f.mask, 1);
        break;
      case v1::MASK_KIND_VISIBLE:
        m = plane(f.mask_vis, 1);
        break;
      case v1::MASK_KIND_INFRARED:
        m = plane(f.mask_ir, 1);
        break;
      case v1::MASK_KIND_PROMPT:
        m = p.mask.empty() ? cv::Mat(size, CV_8UC1, cv::Scalar(0)) : p.mask;
        break;
      default:
        continue;
    }
    auto* out = resp.add_masks();
    out->set_kind(kind);
    ParsedRequest png = p;
    png.encoding = p.encoding == v1::OUTPUT_ENCODING_RAW ? v1::OUTPUT_ENCODING_RAW : v1::OUTPUT_ENCODING_PNG;
    auto mimg = EncodeOutput(m, png);  // masks are never JPEG-compressed
    if (!mimg.ok()) return mimg.status();
    *out->mutable_image() = std::move(*mimg);
  }
  if (!p.metrics.empty() && options_.quality) {
    // Same conventions as ctrlfuse-eval on the same files (quality::ToGrey255).
    auto values = options_.quality(p.infrared, p.visible, fused_grey, p.metrics);
    for (const auto& [name, value] : values) {
      (*resp.mutable_metrics())[name] = value;
      metrics_->ObserveQuality(name, value);
    }
  }
  const SteadyTime t_done = clock_->Now();
  metrics_->encode_seconds->Observe(Seconds(t_done - t_computed));
  metrics_->request_seconds->Observe(Seconds(t_done - t0));
  metrics_->images_fused->Increment();
  auto* t = resp.mutable_timings();
  t->set_queue_seconds(r.queue_seconds);
  t->set_decode_seconds(Seconds(t_decoded - t0));
  t->set_prompt_seconds(Seconds(t_prepared - t_decoded));
  t->set_compute_seconds(r.compute_seconds);
  t->set_encode_seconds(Seconds(t_done - t_computed));
  t->set_total_seconds(Seconds(t_done - t0));
  t->set_batch_size(uint32_t(r.batch_size));
  t->set_cache_hit(r.cache_hit);
  return resp;
}

}  // namespace ctrlfuse::server
