#include "server/metrics.h"

#include <prometheus/collectable.h>

#include "absl/strings/ascii.h"
#include "build_revision.h"
#include "server/encode_cache.h"
#include "server/gpu_metrics.h"
#include "server/http_endpoint.h"
#include "server/process_metrics.h"

namespace ctrlfuse::server {
namespace {

// Latencies seen here run from ~1 ms (decode of a small pair on a GPU) to
// tens of seconds (ViT-H on a CPU).
const prometheus::Histogram::BucketBoundaries kSecondsBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                 0.5,   1,      2.5,   5,    10,    30,   60,  120};

// Buckets per quality metric, spanning the range it takes on ordinary
// infrared-visible pairs (docs/quality-metrics.md gives the conventions:
// MI and SSIM are sums over both sources, MSE is on the [0,1] scale, PSNR
// in dB the field's way, ~60-65).
const std::map<std::string, prometheus::Histogram::BucketBoundaries>& QualityBuckets() {
  static const auto* buckets = new std::map<std::string, prometheus::Histogram::BucketBoundaries>{
      {"EN", {1, 2, 3, 4, 5, 5.5, 6, 6.5, 7, 7.25, 7.5, 7.75, 8}},
      {"SD", {5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 80, 100, 128}},
      {"SF", {2, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 60}},
      {"AG", {1, 2, 3, 4, 5, 6, 8, 10, 15, 20}},
      {"MI", {0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8, 12, 16}},
      {"CC", {-0.5, 0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}},
      {"SCD", {-1, -0.5, 0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2}},
      {"MSE", {0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3}},
      {"PSNR", {50, 55, 58, 60, 61, 62, 63, 64, 65, 66, 68, 70, 80, 100}},
      {"SSIM", {0.5, 0.8, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2}},
      {"VIF", {0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.2, 1.5, 2}},
      {"Qabf", {0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1}},
      {"Nabf", {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5}},
  };
  return *buckets;
}

// The encode cache's own counters, read at each scrape.
class EncodeCacheCollector : public prometheus::Collectable {
 public:
  explicit EncodeCacheCollector(const EncodeCache* cache) : cache_(cache) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    const EncodeCache::Stats s = cache_->stats();
    using prometheus::MetricType;
    return {ScalarFamily("ctrlfuse_encode_cache_hits_total", "Encode-cache hits.", MetricType::Counter, double(s.hits)),
            ScalarFamily("ctrlfuse_encode_cache_misses_total", "Encode-cache misses.", MetricType::Counter,
                         double(s.misses)),
            ScalarFamily("ctrlfuse_encode_cache_evictions_total", "Encode-cache evictions.", MetricType::Counter,
                         double(s.evictions)),
            ScalarFamily("ctrlfuse_encode_cache_bytes", "Bytes held by the encode cache.", MetricType::Gauge,
                         double(s.bytes)),
            ScalarFamily("ctrlfuse_encode_cache_entries", "Pairs held by the encode cache.", MetricType::Gauge,
                         double(s.entries))};
  }

 private:
  const EncodeCache* cache_;
};

// One gauge read from `read` at each scrape: a value another component
// owns (set at every change it would go stale on paths that forget to).
class ReadAtScrape : public prometheus::Collectable {
 public:
  ReadAtScrape(std::string name, std::string help, std::function<double()> read)
      : name_(std::move(name)), help_(std::move(help)), read_(std::move(read)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return {ScalarFamily(name_, help_, prometheus::MetricType::Gauge, read_())};
  }

 private:
  const std::string name_, help_;
  const std::function<double()> read_;
};

prometheus::Histogram* Seconds(prometheus::Registry& reg, const std::string& name, const std::string& help) {
  return &prometheus::BuildHistogram().Name(name).Help(help).Register(reg).Add({}, kSecondsBuckets);
}

// Unlabelled series: one counter or gauge per family.
prometheus::Counter* Counter(prometheus::Registry& reg, const std::string& name, const std::string& help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(reg).Add({});
}

prometheus::Gauge* Gauge(prometheus::Registry& reg, const std::string& name, const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(reg).Add({});
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& reg = *registry_;
  requests_ = &prometheus::BuildCounter()
                   .Name("ctrlfuse_requests_total")
                   .Help("Fusion requests (stream messages count one each) by gRPC method and status code.")
                   .Register(reg);
  failures_ = &prometheus::BuildCounter()
                   .Name("ctrlfuse_failures_total")
                   .Help(
                       "Failed requests by reason: rejected, deadline, cancelled, invalid, internal, unimplemented, "
                       "unauthenticated, other.")
                   .Register(reg);
  // Every reason and each method's OK series exist from the start at 0, so
  // that rate() and the ratios built on it (alerts, dashboard) read 0 on a
  // healthy server instead of no data.
  // The reasons come from FailureReason over every status code.
  for (int code = 1; code <= int(absl::StatusCode::kUnauthenticated); ++code)
    failures_->Add({{"reason", FailureReason(static_cast<absl::StatusCode>(code))}});
  request_seconds_ = &prometheus::BuildHistogram()
                          .Name("ctrlfuse_request_duration_seconds")
                          .Help(
                              "Time of each answered fusion call in the server (stream frames one each), by gRPC "
                              "method and status code, failures included.")
                          .Register(reg);
  // The codes a healthy or loaded server answers, per method, exist at 0.
  for (const char* method : {"Fuse", "FuseStream", "GetModelInfo", "ModelInfer"}) {
    for (const char* code : {"OK", "INVALID_ARGUMENT", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED",
                             "CANCELLED", "UNAUTHENTICATED", "INTERNAL"})
      requests_->Add({{"method", method}, {"code", code}});
    if (std::string(method) != "GetModelInfo")
      request_seconds_->Add({{"method", method}, {"code", "OK"}}, kSecondsBuckets);
  }
  images_fused = Counter(reg, "ctrlfuse_images_fused_total", "Images fused successfully.");
  batch_splits = Counter(reg, "ctrlfuse_batch_splits_total",
                         "Batches split in halves and retried because the engine ran out of memory.");
  in_flight = Gauge(reg, "ctrlfuse_inflight_requests", "Requests accepted and not yet answered.");
  queue_seconds = Seconds(reg, "ctrlfuse_queue_duration_seconds", "Time from admission to the batch starting.");
  decode_seconds = Seconds(reg, "ctrlfuse_decode_duration_seconds", "Image decoding and validation time.");
  preprocess_seconds = Seconds(reg, "ctrlfuse_preprocess_duration_seconds",
                               "Prompt resolution (boxes/points via SAM) and padding time.");
  compute_seconds = Seconds(reg, "ctrlfuse_compute_duration_seconds",
                            "Model time of each batch (encode + decode), one observation per batch.");
  encode_seconds = Seconds(reg, "ctrlfuse_encode_duration_seconds", "Output image encoding time.");
  grounding_seconds = Seconds(reg, "ctrlfuse_grounding_duration_seconds",
                              "GroundingDINO time of a text prompt (all its images), one observation per request.");
  text_cache_hits = Counter(reg, "ctrlfuse_grounding_text_cache_hits_total",
                            "Text prompts whose caption's encoding came from the text cache.");
  text_cache_misses =
      Counter(reg, "ctrlfuse_grounding_text_cache_misses_total", "Text prompts whose caption was encoded anew.");
  batch_size = &prometheus::BuildHistogram()
                    .Name("ctrlfuse_batch_size")
                    .Help("Size of the batches run by the model.")
                    .Register(reg)
                    .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 3, 4, 6, 8, 12, 16, 24, 32});
  padding_ratio = &prometheus::BuildHistogram()
                       .Name("ctrlfuse_padding_ratio")
                       .Help("Fraction of a bucket's pixels that were padding (pad-to-bucket policy).")
                       .Register(reg)
                       .Add({}, prometheus::Histogram::BucketBoundaries{0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75});
  model_info_ = &prometheus::BuildGauge().Name("ctrlfuse_model_info").Help("The loaded model (value 1).").Register(reg);
  prometheus::BuildGauge()
      .Name("ctrlfuse_build_info")
      .Help("The server's build (value 1): version, git revision, LibTorch it was built against.")
      .Register(reg)
      .Add({{"version", CTRLFUSE_VERSION}, {"revision", CTRLFUSE_REVISION}, {"torch", CTRLFUSE_TORCH_VERSION}})
      .Set(1);
  serving_gauge_ = Gauge(reg, "ctrlfuse_serving", "1 while the server is SERVING (warmed up, not draining), else 0.");
  draining_gauge_ = Gauge(reg, "ctrlfuse_draining", "1 from the start of a drain (SIGTERM) until exit, else 0.");
  for (const auto& [name, buckets] : QualityBuckets())
    quality_[name] = &prometheus::BuildHistogram()
                          .Name("ctrlfuse_fusion_quality_" + absl::AsciiStrToLower(name))
                          .Help("Fusion quality metric " + name + " of the requests that asked for it.")
                          .Register(reg)
                          .Add({}, buckets);
  collectables_.push_back(std::make_shared<ProcessCollector>());
}

Metrics::~Metrics() = default;

absl::Status Metrics::Serve(const std::string& address) {
  auto collect = [this] {
    std::vector<prometheus::MetricFamily> out = registry_->Collect();
    absl::MutexLock lock(&collectables_mu_);
    for (const auto& c : collectables_)
      for (auto& f : c->Collect()) out.push_back(std::move(f));
    return out;
  };
  auto endpoint = HttpEndpoint::Start(address, collect, [this] { return serving(); });
  if (!endpoint.ok()) return endpoint.status();
  endpoint_ = std::move(*endpoint);
  return absl::OkStatus();
}

int Metrics::port() const { return endpoint_ ? endpoint_->port() : 0; }

void Metrics::StopServing() { endpoint_.reset(); }

void Metrics::WatchQueue(std::function<double()> queued) {
  absl::MutexLock lock(&collectables_mu_);
  collectables_.push_back(std::make_shared<ReadAtScrape>(
      "ctrlfuse_queued_requests", "Requests waiting in the batcher (read at each scrape).", std::move(queued)));
}

void Metrics::WatchEncodeCache(const EncodeCache* cache) {
  if (!cache) return;
  absl::MutexLock lock(&collectables_mu_);
  collectables_.push_back(std::make_shared<EncodeCacheCollector>(cache));
}

bool Metrics::WatchGpus(std::string* why) {
  auto gpus = GpuCollector::Load(why);
  if (!gpus) return false;
  absl::MutexLock lock(&collectables_mu_);
  collectables_.push_back(std::move(gpus));
  return true;
}

void Metrics::SetServing(bool serving) { serving_gauge_->Set(serving ? 1 : 0); }

void Metrics::SetDraining(bool draining) { draining_gauge_->Set(draining ? 1 : 0); }

const char* FailureReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:  // queue full, not serving, shutting down
    case absl::StatusCode::kResourceExhausted:
      return "rejected";
    case absl::StatusCode::kDeadlineExceeded:
      return "deadline";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kInvalidArgument:
      return "invalid";
    case absl::StatusCode::kInternal:
      return "internal";
    case absl::StatusCode::kUnimplemented:
      return "unimplemented";
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return "unauthenticated";
    default:
      return "other";
  }
}

void Metrics::CountCall(const std::string& method, const absl::Status& status, double seconds) {
  const std::string code = absl::StatusCodeToString(status.code());
  requests_->Add({{"method", method}, {"code", code}}).Increment();
  if (seconds >= 0) request_seconds_->Add({{"method", method}, {"code", code}}, kSecondsBuckets).Observe(seconds);
  if (!status.ok()) failures_->Add({{"reason", FailureReason(status.code())}}).Increment();
}

void Metrics::SetModelInfo(const std::string& config, const std::string& device, const std::string& precision) {
  model_info_->Add({{"config", config}, {"device", device}, {"precision", precision}}).Set(1);
}

void Metrics::ObserveQuality(const std::string& metric, double value) {
  if (auto it = quality_.find(metric); it != quality_.end()) it->second->Observe(value);
}

}  // namespace ctrlfuse::server
