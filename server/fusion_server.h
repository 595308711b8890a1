// The whole server, assembled once for main() and the tests alike: metrics
// endpoint, pipeline, FusionService, gRPC health and reflection, listening
// sockets. Lifecycle: Create (listening, NOT_SERVING) -> WarmUpAndServe
// (warm-up, then SERVING) -> Drain (NOT_SERVING, in-flight calls finish,
// executors join).
//
// Thread-safety: the lifecycle calls come from one thread; the accessors
// may be used from any. Ownership: `engine` and `clock` are borrowed and
// must outlive the server; it owns everything else.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/api/fusion_engine.h"
#include "server/fusion_pipeline.h"
#include "server/fusion_service.h"
#include "server/kserve_service.h"
#include "server/metrics.h"

namespace ctrlfuse::server {

// gRPC transport security. All empty: plaintext. cert_file + key_file: TLS;
// client_ca_file as well: mutual TLS (a client certificate signed by that CA
// is required).
struct TlsOptions {
  std::string cert_file, key_file, client_ca_file;
};

struct ServerOptions {
  // All interfaces by default: the server is for remote clients (in a pod,
  // the Service reaches it on the pod's address). Bind 127.0.0.1 to keep a
  // port local.
  std::string host = "0.0.0.0";
  std::string metrics_host;  // empty: `host`
  int port = 50051;          // 0: pick a free one (port()); 0..65535
  int metrics_port = 9464;   // 0: pick a free one (metrics_port()); -1: no endpoint
  PipelineOptions pipeline;  // known_metrics and quality default to the quality library's
  std::vector<cv::Size> warmup_sizes;
  bool warm_up = true;       // false: serve at once (tests whose subject is not warm-up)
  size_t stream_window = 4;  // requests of one stream in flight at once
  int64_t max_message_bytes = 64ll << 20;
  TlsOptions tls;
  // Connections and streams (ServerOptions::Validate: each >= 1).
  size_t max_streams = 64;                // FuseStreams open at once; more get RESOURCE_EXHAUSTED
  int handshake_timeout_seconds = 10;     // a connection that sends no HTTP/2 preface by then is closed
  int max_connection_idle_seconds = 300;  // a connection without calls for this long is closed
  // Bearer tokens fusion calls must carry (server/bearer_auth.h); empty:
  // no authentication.
  std::vector<std::string> auth_tokens;

  // INVALID_ARGUMENT naming the option when one is out of range (the
  // pipeline's options included).
  absl::Status Validate() const;
};

class FusionServer {
 public:
  static absl::StatusOr<std::unique_ptr<FusionServer>> Create(api::FusionEngine* engine, ServerOptions options,
                                                              Clock* clock);
  ~FusionServer();

  // Starts the executors, warms up (calling `progress` after each step),
  // then reports SERVING (health and the service). Until then fusion calls
  // get UNAVAILABLE "warming up".
  absl::Status WarmUpAndServe(const WarmupProgress& progress = nullptr);
  // NOT_SERVING and new fusion calls refused with UNAVAILABLE; in-flight
  // ones finish until `grace` passes (their batches keep running); then the
  // gRPC server stops (cancelling what is left) and the executors join.
  void Drain(std::chrono::seconds grace);

  int port() const { return port_; }
  int metrics_port() const { return metrics_.port(); }
  Metrics& metrics() { return metrics_; }
  FusionPipeline& pipeline() { return *pipeline_; }
  FusionServiceImpl& service() { return *service_; }
  const v1::ModelInfo& model_info() const { return model_info_; }
  // Why the GPU metrics are missing on a CUDA device (NVML not loadable);
  // empty when they are exported or the model runs on the CPU.
  const std::string& gpu_metrics_unavailable() const { return gpu_metrics_unavailable_; }

 private:
  FusionServer() = default;

  // Declared in destruction order's reverse: the gRPC server goes first,
  // then the service, the pipeline (joins executors), the metrics.
  Metrics metrics_;
  std::unique_ptr<FusionPipeline> pipeline_;
  v1::ModelInfo model_info_;
  std::unique_ptr<FusionServiceImpl> service_;
  std::unique_ptr<KServeServiceImpl> kserve_;
  std::unique_ptr<grpc::Server> grpc_;
  std::vector<cv::Size> warmup_sizes_;
  bool warm_up_ = true;
  int port_ = 0;
  bool drained_ = false;
  std::string gpu_metrics_unavailable_;
};

// What GetModelInfo answers: the engine's model, the limits, and the kinds
// the server serves (prompt kinds from the registry).
v1::ModelInfo BuildModelInfo(const api::ModelInfo& info, const ServerOptions& options);

// The gRPC credentials for `tls` (insecure when it is empty); errors name
// the option (tls_cert, tls_key, tls_client_ca) and the file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsOptions& tls);

}  // namespace ctrlfuse::server
