// Prometheus metrics of the server (prometheus-cpp), served on the metrics
// port at /metrics. Names follow Prometheus conventions: `ctrlfuse_` prefix,
// base units (seconds, bytes), `_total` for counters.
//
// The endpoint (server/http_endpoint.h) also answers /healthz and /readyz.
//
// Thread-safety: counting, observing and SetServing/SetDraining may be done
// from any thread (prometheus-cpp metrics are atomic); Serve, the Watch
// calls and StopServing are setup/teardown calls for one thread. Ownership:
// a watched cache is borrowed and must outlive the endpoint (StopServing, or
// the destructor, stops it).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace ctrlfuse::server {

class EncodeCache;
class HttpEndpoint;

// The `reason` label of ctrlfuse_failures_total for a failed call's status
// code: rejected, deadline, cancelled, invalid, internal, unimplemented,
// unauthenticated or other (a small fixed label set).
const char* FailureReason(absl::StatusCode code);

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Starts the HTTP endpoint ("0.0.0.0:9464"; port 0 picks a free one,
  // see port()); UNAVAILABLE naming the address when it cannot listen.
  absl::Status Serve(const std::string& address);
  // The endpoint's bound port (0 when not serving).
  int port() const;
  void StopServing();

  // Counts one answered call: ctrlfuse_requests_total by method and code,
  // when it failed ctrlfuse_failures_total by reason, and, when `seconds`
  // is given (>= 0), ctrlfuse_request_duration_seconds by method and code.
  // The one place any of them is counted.
  void CountCall(const std::string& method, const absl::Status& status, double seconds = -1);
  // ctrlfuse_queued_requests, read from `queued` at each scrape (the
  // scheduler's count; it must outlive the endpoint).
  void WatchQueue(std::function<double()> queued);
  // Exports the cache's own counters (hits, misses, evictions, bytes),
  // read at each scrape.
  void WatchEncodeCache(const EncodeCache* cache);
  // Exports GPU memory and utilisation from NVML (server/gpu_metrics.h);
  // false, with `why`, when NVML is not there (a CPU host).
  bool WatchGpus(std::string* why);
  void SetModelInfo(const std::string& config, const std::string& device, const std::string& precision);
  // ctrlfuse_serving (1 while SERVING, what /readyz answers) and
  // ctrlfuse_draining (1 from the drain's start to exit).
  void SetServing(bool serving);
  void SetDraining(bool draining);
  bool serving() const { return serving_gauge_->Value() == 1; }
  // One histogram per quality metric (ctrlfuse_fusion_quality_<name>), each
  // with buckets spanning its own range; unknown names are ignored.
  void ObserveQuality(const std::string& metric, double value);

  prometheus::Registry& registry() { return *registry_; }

  prometheus::Counter* images_fused;
  prometheus::Counter* batch_splits;  // batches split after the engine ran out of memory
  prometheus::Gauge* in_flight;
  prometheus::Histogram *queue_seconds, *decode_seconds, *preprocess_seconds, *compute_seconds, *encode_seconds,
      *batch_size, *padding_ratio, *grounding_seconds;
  prometheus::Counter *text_cache_hits, *text_cache_misses;  // text prompts

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  // Collected at each scrape, besides the registry (scrapes run on the
  // endpoint's threads while Watch* may still add one).
  absl::Mutex collectables_mu_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(collectables_mu_);
  std::unique_ptr<HttpEndpoint> endpoint_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* failures_;
  prometheus::Family<prometheus::Histogram>* request_seconds_;
  prometheus::Family<prometheus::Gauge>* model_info_;
  prometheus::Gauge *serving_gauge_, *draining_gauge_;
  std::map<std::string, prometheus::Histogram*> quality_;
};

}  // namespace ctrlfuse::server
