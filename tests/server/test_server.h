// An in-process ctrlfuse server on real localhost sockets (gRPC and the
// metrics HTTP endpoint): the same assembly as ctrlfuse-server
// (server/fusion_server.h), with the engine and clock the test gives.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "client/fusion_client.h"
#include "server/fusion_server.h"
#include "tests/server/test_net.h"

namespace ctrlfuse::testing {

class InProcessServer {
 public:
  // `clock`: null = the real one. No warm-up: the tests of it build their own.
  InProcessServer(api::FusionEngine* engine, server::PipelineOptions options, bool serve_metrics,
                  server::Clock* clock = nullptr)
      : InProcessServer(engine, Local(std::move(options), serve_metrics), clock) {}
  // Any server options (Local() gives the defaults above).
  InProcessServer(api::FusionEngine* engine, server::ServerOptions o, server::Clock* clock = nullptr) {
    auto s = server::FusionServer::Create(engine, std::move(o), clock ? clock : &real_clock_);
    if (!s.ok()) {
      error = s.status().ToString();
      return;
    }
    server_ = std::move(*s);
    if (auto st = server_->WarmUpAndServe(); !st.ok()) error = st.ToString();
    port = server_->port();
    metrics_port = server_->metrics_port();
  }

  // 127.0.0.1, free ports, no warm-up.
  static server::ServerOptions Local(server::PipelineOptions options, bool serve_metrics) {
    server::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.metrics_port = serve_metrics ? 0 : -1;
    o.pipeline = std::move(options);
    o.warm_up = false;
    return o;
  }

  std::unique_ptr<client::FusionClient> Client(int retries = 0, double deadline = 120,
                                               const std::string& token = "") const {
    client::ClientOptions o;
    o.bearer_token = token;
    o.address = "127.0.0.1:" + std::to_string(port);
    o.retries = retries;
    o.deadline_seconds = deadline;
    return std::move(*client::FusionClient::Create(o));
  }
  std::map<std::string, double> Scrape() const { return ParseMetrics(HttpGet(metrics_port, "/metrics")); }
  server::Metrics& metrics() { return server_->metrics(); }
  server::FusionPipeline& pipeline() { return server_->pipeline(); }
  server::FusionServiceImpl& service() { return server_->service(); }

  std::string error;  // empty when it started
  int port = 0, metrics_port = 0;

 private:
  server::RealClock real_clock_;
  std::unique_ptr<server::FusionServer> server_;
};

}  // namespace ctrlfuse::testing
