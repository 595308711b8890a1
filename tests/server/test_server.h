// An in-process ctrlfuse server on real localhost sockets (gRPC and the
// metrics HTTP endpoint) with the real tiny model.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "client/fusion_client.h"
#include "quality/metrics.h"
#include "server/fusion_service.h"
#include "tests/server/test_net.h"

namespace ctrlfuse::testing {

// An in-process server: engine + pipeline + service + metrics endpoint.
class InProcessServer {
 public:
  InProcessServer(api::FusionEngine* engine, server::PipelineOptions options, bool serve_metrics)
      : pipeline_options_(std::move(options)) {
    pipeline_options_.known_metrics = quality::MetricNames();
    pipeline_options_.quality = [](const cv::Mat& a, const cv::Mat& b, const cv::Mat& f,
                                   const std::vector<std::string>& names) { return quality::Compute(a, b, f, names); };
    metrics.SetModelInfo(engine->info().config, engine->info().device, engine->info().precision);
    if (serve_metrics) {
      metrics_port = FreePort();
      metrics_error = metrics.Serve("127.0.0.1:" + std::to_string(metrics_port));
    }
    pipeline = std::make_unique<server::FusionPipeline>(engine, pipeline_options_, &metrics, &clock_);
    v1::ModelInfo info;
    info.set_config(engine->info().config);
    info.set_max_batch_size(uint32_t(pipeline_options_.batching.max_batch_size));
    service = std::make_unique<server::FusionServiceImpl>(pipeline.get(), &metrics, info, 4);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    pipeline->Start();
    service->SetServing(true);
  }
  ~InProcessServer() {
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pipeline->Stop();
  }
  std::unique_ptr<client::FusionClient> Client(int retries = 0, double deadline = 120) const {
    client::ClientOptions o;
    o.address = "127.0.0.1:" + std::to_string(port);
    o.retries = retries;
    o.deadline_seconds = deadline;
    return std::move(*client::FusionClient::Create(o));
  }
  std::map<std::string, double> Scrape() const { return ParseMetrics(HttpGet(metrics_port, "/metrics")); }

  server::Metrics metrics;
  int metrics_port = 0, port = 0;
  std::string metrics_error;
  std::unique_ptr<server::FusionPipeline> pipeline;
  std::unique_ptr<server::FusionServiceImpl> service;
  std::unique_ptr<grpc::Server> server;

 private:
  server::PipelineOptions pipeline_options_;
  server::RealClock clock_;
};

}  // namespace ctrlfuse::testing
