// Prometheus metrics of the server (prometheus-cpp), served on the metrics
// port at /metrics. Names follow Prometheus conventions: `ctrlfuse_` prefix,
// base units (seconds, bytes), `_total` for counters.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace ctrlfuse::server {

// Failure reasons: a small fixed label set.
enum class FailureReason { kRejected, kDeadline, kCancelled, kInvalid, kInternal, kUnimplemented };

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Starts the HTTP endpoint ("0.0.0.0:9464"); returns an error message or "".
  std::string Serve(const std::string& address);

  void CountRequest(const std::string& method, const std::string& code);
  void CountFailure(FailureReason reason);
  void SetModelInfo(const std::string& config, const std::string& device, const std::string& precision);
  void ObserveQuality(const std::string& metric, double value);

  prometheus::Registry& registry() { return *registry_; }

  prometheus::Counter* images_fused;
  prometheus::Gauge* queued;
  prometheus::Gauge* in_flight;
  prometheus::Histogram *request_seconds, *queue_seconds, *decode_seconds, *preprocess_seconds, *compute_seconds,
      *encode_seconds, *batch_size, *padding_ratio;
  prometheus::Counter *cache_hits, *cache_misses, *cache_evictions;
  prometheus::Gauge* cache_bytes;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  // The Exposer keeps only weak references: collectables live here.
  std::shared_ptr<prometheus::Collectable> process_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* failures_;
  prometheus::Family<prometheus::Gauge>* model_info_;
  prometheus::Family<prometheus::Histogram>* quality_;
};

}  // namespace ctrlfuse::server
