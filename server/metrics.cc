#include "server/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "server/encode_cache.h"

namespace ctrlfuse::server {
namespace {

// Latencies seen here run from ~1 ms (decode of a small pair on a GPU) to
// tens of seconds (ViT-H on a CPU).
const prometheus::Histogram::BucketBoundaries kSecondsBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                 0.5,   1,      2.5,   5,    10,    30,   60,  120};

// process_cpu_seconds_total and process_resident_memory_bytes from /proc,
// read on each scrape.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    std::ifstream stat("/proc/self/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the ")" that ends the command name; utime, stime are 14, 15.
    std::istringstream rest(content.substr(content.rfind(')') + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    const double ticks = double(sysconf(_SC_CLK_TCK));
    prometheus::MetricFamily cpu{"process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.",
                                 prometheus::MetricType::Counter,
                                 {}};
    prometheus::ClientMetric c;
    c.counter.value = (utime + stime) / ticks;
    cpu.metric.push_back(c);
    out.push_back(cpu);

    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    prometheus::MetricFamily rss{
        "process_resident_memory_bytes", "Resident memory size in bytes.", prometheus::MetricType::Gauge, {}};
    prometheus::ClientMetric r;
    r.gauge.value = double(resident) * double(sysconf(_SC_PAGESIZE));
    rss.metric.push_back(r);
    out.push_back(rss);
    return out;
  }
};

prometheus::MetricFamily Scalar(const std::string& name, const std::string& help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily f{name, help, type, {}};
  prometheus::ClientMetric m;
  (type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value) = value;
  f.metric.push_back(m);
  return f;
}

// The encode cache's own counters, read at each scrape.
class EncodeCacheCollector : public prometheus::Collectable {
 public:
  explicit EncodeCacheCollector(const EncodeCache* cache) : cache_(cache) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    const EncodeCache::Stats s = cache_->stats();
    using prometheus::MetricType;
    return {
        Scalar("ctrlfuse_encode_cache_hits_total", "Encode-cache hits.", MetricType::Counter, double(s.hits)),
        Scalar("ctrlfuse_encode_cache_misses_total", "Encode-cache misses.", MetricType::Counter, double(s.misses)),
        Scalar("ctrlfuse_encode_cache_evictions_total", "Encode-cache evictions.", MetricType::Counter,
               double(s.evictions)),
        Scalar("ctrlfuse_encode_cache_bytes", "Bytes held by the encode cache.", MetricType::Gauge, double(s.bytes)),
        Scalar("ctrlfuse_encode_cache_entries", "Pairs held by the encode cache.", MetricType::Gauge,
               double(s.entries))};
  }

 private:
  const EncodeCache* cache_;
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
                       "other.")
                   .Register(reg);
  images_fused = Counter(reg, "ctrlfuse_images_fused_total", "Images fused successfully.");
  queued = Gauge(reg, "ctrlfuse_queued_requests", "Requests waiting in the batcher.");
  in_flight = Gauge(reg, "ctrlfuse_inflight_requests", "Requests accepted and not yet answered.");
  request_seconds =
      Seconds(reg, "ctrlfuse_request_duration_seconds", "End-to-end time of a fusion request in the server.");
  queue_seconds = Seconds(reg, "ctrlfuse_queue_duration_seconds", "Time from admission to the batch starting.");
  decode_seconds = Seconds(reg, "ctrlfuse_decode_duration_seconds", "Image decoding and validation time.");
  preprocess_seconds = Seconds(reg, "ctrlfuse_preprocess_duration_seconds",
                               "Prompt resolution (boxes/points via SAM) and padding time.");
  compute_seconds =
      Seconds(reg, "ctrlfuse_compute_duration_seconds", "Model time of the batch a request ran in (encode + decode).");
  encode_seconds = Seconds(reg, "ctrlfuse_encode_duration_seconds", "Output image encoding time.");
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
  quality_ = &prometheus::BuildHistogram()
                  .Name("ctrlfuse_fusion_quality")
                  .Help("Fusion quality metrics computed on request, by metric name.")
                  .Register(reg);
}

Metrics::~Metrics() = default;

std::string Metrics::Serve(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address);
    exposer_->RegisterCollectable(registry_);
    collectables_.push_back(std::make_shared<ProcessCollector>());
    for (const auto& c : collectables_) exposer_->RegisterCollectable(c);
  } catch (const std::exception& e) {
    exposer_.reset();
    return std::string("metrics endpoint on ") + address + ": " + e.what();
  }
  return "";
}

int Metrics::port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::StopServing() { exposer_.reset(); }

void Metrics::WatchEncodeCache(const EncodeCache* cache) {
  if (!cache) return;
  collectables_.push_back(std::make_shared<EncodeCacheCollector>(cache));
  if (exposer_) exposer_->RegisterCollectable(collectables_.back());
}

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
    default:
      return "other";
  }
}

void Metrics::CountCall(const std::string& method, const absl::Status& status) {
  requests_->Add({{"method", method}, {"code", absl::StatusCodeToString(status.code())}}).Increment();
  if (!status.ok()) failures_->Add({{"reason", FailureReason(status.code())}}).Increment();
}

void Metrics::SetModelInfo(const std::string& config, const std::string& device, const std::string& precision) {
  model_info_->Add({{"config", config}, {"device", device}, {"precision", precision}}).Set(1);
}

void Metrics::ObserveQuality(const std::string& metric, double value) {
  // Wide, metric-agnostic buckets: the metrics span 0..~65 (PSNR).
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.5, 2, 3, 5, 8, 12, 20, 40, 60, 70};
  quality_->Add({{"metric", metric}}, kBuckets).Observe(value);
}

}  // namespace ctrlfuse::server
