// Prometheus metrics of the server (prometheus-cpp), served on the metrics
// port at /metrics. Names follow Prometheus conventions: `ctrlfuse_` prefix,
// base units (seconds, bytes), `_total` for counters.
//
// Thread-safety: counting and observing may be done from any thread
// (prometheus-cpp metrics are atomic); Serve, WatchEncodeCache and
// StopServing are setup/teardown calls for one thread. Ownership: a watched
// cache is borrowed and must outlive the endpoint (StopServing, or the
// destructor, stops it).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace ctrlfuse::server {

class EncodeCache;

// The `reason` label of ctrlfuse_failures_total for a failed call's status
// code: rejected, deadline, cancelled, invalid, internal, unimplemented or
// other (a small fixed label set).
const char* FailureReason(absl::StatusCode code);

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Starts the HTTP endpoint ("0.0.0.0:9464"; port 0 picks a free one,
  // see port()); returns an error message or "".
  std::string Serve(const std::string& address);
  // The endpoint's bound port (0 when not serving).
  int port() const;
  void StopServing();

  // Counts one answered call: ctrlfuse_requests_total by method and code,
  // and, when it failed, ctrlfuse_failures_total by reason. The one place
  // either is counted.
  void CountCall(const std::string& method, const absl::Status& status);
  // Exports the cache's own counters (hits, misses, evictions, bytes),
  // read at each scrape.
  void WatchEncodeCache(const EncodeCache* cache);
  void SetModelInfo(const std::string& config, const std::string& device, const std::string& precision);
  void ObserveQuality(const std::string& metric, double value);

  prometheus::Registry& registry() { return *registry_; }

  prometheus::Counter* images_fused;
  prometheus::Gauge* queued;
  prometheus::Gauge* in_flight;
  prometheus::Histogram *request_seconds, *queue_seconds, *decode_seconds, *preprocess_seconds, *compute_seconds,
      *encode_seconds, *batch_size, *padding_ratio;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  // The Exposer keeps only weak references: collectables live here.
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* failures_;
  prometheus::Family<prometheus::Gauge>* model_info_;
  prometheus::Family<prometheus::Histogram>* quality_;
};

}  // namespace ctrlfuse::server
