// The metrics port's HTTP server (civetweb): /metrics in the Prometheus text
// format, and /healthz and /readyz for tools that cannot speak gRPC health
// (load balancers, kubelet httpGet probes, curl). /healthz is 200 while the
// process answers HTTP at all (liveness); /readyz is 200 only while the
// server reports SERVING (503 while warming up and draining), the same state
// as grpc.health.v1.
//
// prometheus-cpp's Exposer serves /metrics only and hides its civetweb
// server, so the endpoint is ours; the serialisation is still prometheus-cpp's.
//
// Thread-safety: the handlers run on civetweb's threads; `collect` and
// `ready` must be safe to call from any thread. Ownership: the endpoint owns
// its server; the callbacks' captures must outlive it (destroy it first).
#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

class CivetServer;

namespace ctrlfuse::server {

class HttpEndpoint {
 public:
  using Collect = std::function<std::vector<prometheus::MetricFamily>()>;
  using Ready = std::function<bool()>;

  // Listens on "host:port" (port 0 picks a free one, see port()). Fails with
  // UNAVAILABLE naming the address when it cannot bind (e.g. the port is
  // taken: civetweb binds without SO_REUSEPORT, so two servers never share).
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(const std::string& address, Collect collect, Ready ready);
  ~HttpEndpoint();

  int port() const { return port_; }

 private:
  class Handler;
  HttpEndpoint() = default;

  Collect collect_;
  Ready ready_;
  std::unique_ptr<CivetServer> server_;
  std::vector<std::unique_ptr<Handler>> handlers_;
  int port_ = 0;
};

}  // namespace ctrlfuse::server
