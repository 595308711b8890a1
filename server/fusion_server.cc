#include "server/fusion_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "quality/metrics.h"
#include "server/prompts/prompt_kind.h"
#include "server/status_interceptor.h"

namespace ctrlfuse::server {
namespace {
// How long gRPC's Shutdown waits, after our calls are done, for the ones
// it is still running (refusals, health checks) before cancelling them.
constexpr auto kShutdownGrace = std::chrono::milliseconds(500);
}  // namespace

v1::ModelInfo BuildModelInfo(const api::ModelInfo& info, const ServerOptions& options) {
  v1::ModelInfo m;
  m.set_config(info.config);
  m.set_device(info.device);
  m.set_precision(info.precision);
  m.set_checkpoint(info.checkpoint);
  m.set_checkpoint_kind(info.checkpoint_kind);
  m.set_num_parameters(info.num_parameters);
  m.set_sam_input(uint32_t(info.sam_input));
  m.set_num_queries(uint32_t(info.num_queries));
  m.set_max_pixels(options.pipeline.limits.max_pixels);
  m.set_max_message_bytes(uint64_t(options.max_message_bytes));
  m.set_max_batch_size(uint32_t(options.pipeline.batching.max_batch_size));
  for (const auto& k : ServedPromptKindNames(options.pipeline.grounding != nullptr)) m.add_prompt_kinds(k);
  if (const api::GroundingEngine* g = options.pipeline.grounding) {
    m.set_grounding_config(g->info().config);
    m.set_grounding_checkpoint(g->info().checkpoint);
  }
  for (const char* k : {"png", "jpeg", "tiff", "bmp", "raw"}) m.add_input_encodings(k);
  for (const char* k : {"png", "jpeg", "raw"}) m.add_output_encodings(k);
  for (const auto& name : options.pipeline.known_metrics) m.add_metrics(name);
  return m;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsOptions& tls) {
  if (tls.cert_file.empty() && tls.key_file.empty() && tls.client_ca_file.empty())
    return grpc::InsecureServerCredentials();
  if (tls.cert_file.empty() || tls.key_file.empty())
    return absl::InvalidArgumentError("tls_cert and tls_key: TLS needs both (tls_client_ca adds mutual TLS)");
  auto read = [](const std::string& path, const char* option) -> absl::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return absl::InvalidArgumentError(absl::StrCat(option, ": cannot read ", path));
    if (text.find("-----BEGIN ") == std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat(option, ": ", path, " is missing or not PEM"));
    return text;
  };
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  auto cert = read(tls.cert_file, "tls_cert");
  if (!cert.ok()) return cert.status();
  auto key = read(tls.key_file, "tls_key");
  if (!key.ok()) return key.status();
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.client_ca_file.empty()) {
    auto ca = read(tls.client_ca_file, "tls_client_ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

absl::Status ServerOptions::Validate() const {
  if (host.empty()) return absl::InvalidArgumentError("host: must not be empty (0.0.0.0: every interface)");
  if (port < 0 || port > 65535) return absl::InvalidArgumentError(absl::StrCat("port: ", port, " is not 0..65535"));
  if (metrics_port < -1 || metrics_port > 65535)
    return absl::InvalidArgumentError(absl::StrCat("metrics_port: ", metrics_port, " is not -1 (off) or 0..65535"));
  if (port != 0 && port == metrics_port && (metrics_host.empty() || metrics_host == host))
    return absl::InvalidArgumentError(absl::StrCat("metrics_port: ", metrics_port, " is also the gRPC port"));
  if (stream_window < 1) return absl::InvalidArgumentError("stream_window: must be at least 1");
  if (max_streams < 1) return absl::InvalidArgumentError("max_streams: must be at least 1");
  if (handshake_timeout_seconds < 1 || handshake_timeout_seconds > 3600)
    return absl::InvalidArgumentError("handshake_timeout_seconds: must be 1 to 3600");
  if (max_connection_idle_seconds < 1 || max_connection_idle_seconds > 7 * 86400)
    return absl::InvalidArgumentError("max_connection_idle_seconds: must be 1 to 604800 (a week)");
  if (max_message_bytes < 1) return absl::InvalidArgumentError("max_message_bytes: must be at least 1");
  return pipeline.Validate();
}

absl::StatusOr<std::unique_ptr<FusionServer>> FusionServer::Create(api::FusionEngine* engine, ServerOptions options,
                                                                   Clock* clock) {
  if (!engine) return absl::InvalidArgumentError("FusionServer: missing engine");
  if (auto s = options.Validate(); !s.ok()) return s;
  auto credentials = ServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  if (options.pipeline.known_metrics.empty() && !options.pipeline.quality) {
    options.pipeline.known_metrics = quality::MetricNames();
    options.pipeline.quality = [](const cv::Mat& ir, const cv::Mat& vis, const cv::Mat& fused,
                                  const std::vector<std::string>& names) {
      return quality::Compute(ir, vis, fused, names);
    };
  }
  std::unique_ptr<FusionServer> s(new FusionServer());
  auto pipeline = FusionPipeline::Create(engine, options.pipeline, &s->metrics_, clock);
  if (!pipeline.ok()) return pipeline.status();
  s->pipeline_ = std::move(*pipeline);
  const auto& info = engine->info();
  s->metrics_.SetModelInfo(info.config, info.device, info.precision);
  s->metrics_.WatchEncodeCache(s->pipeline_->cache());
  s->metrics_.WatchQueue([pipeline = s->pipeline_.get()] { return double(pipeline->scheduler().queued()); });
  if (options.metrics_port >= 0) {
    const std::string address =
        absl::StrCat(options.metrics_host.empty() ? options.host : options.metrics_host, ":", options.metrics_port);
    if (auto st = s->metrics_.Serve(address); !st.ok()) return st;
  }
  // GPU series only where the model runs on one (NVML would also answer on
  // a GPU node whose server runs on the CPU).
  if (absl::StartsWith(info.device, "cuda")) {
    std::string why;
    if (!s->metrics_.WatchGpus(&why)) s->gpu_metrics_unavailable_ = why;
  }
  s->model_info_ = BuildModelInfo(info, options);
  s->service_ =
      std::make_unique<FusionServiceImpl>(s->pipeline_.get(), &s->metrics_, s->model_info_, options.stream_window,
                                          BearerAuth(options.auth_tokens), options.max_streams);
  s->warmup_sizes_ = options.warmup_sizes;
  s->warm_up_ = options.warm_up;

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without SO_REUSEPORT: a second server on a port in use fails to start
  // instead of silently sharing its traffic, and gRPC stops cloning the
  // listener per completion queue (with --port=0 each clone got its own
  // unprinted port serving the full API).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Hostile or dead connections: one that never sends the HTTP/2 preface
  // is closed after the handshake timeout (200 half-open connections stayed
  // > 25 s), an idle one after max_connection_idle; dead peers are found by
  // keepalive pings, and clients pinging more often than every 10 s without
  // calls are sent away (GOAWAY too_many_pings), as gRPC recommends.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, options.handshake_timeout_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, options.max_connection_idle_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddListeningPort(absl::StrCat(options.host, ":", options.port), *credentials, &s->port_);
  const int max_bytes = int(std::min<int64_t>(options.max_message_bytes, INT32_MAX));
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  // Requests gRPC cannot parse get INVALID_ARGUMENT (server/status_interceptor.h).
  CaptureProtobufParseErrors();
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<StatusInterceptorFactory>(&s->metrics_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(s->service_.get());
  // The Open Inference Protocol (KServe v2) on the same port.
  s->kserve_ = std::make_unique<KServeServiceImpl>(s->service_.get(), CTRLFUSE_SERVER_VERSION);
  builder.RegisterService(s->kserve_.get());
  s->grpc_ = builder.BuildAndStart();
  if (!s->grpc_ || s->port_ == 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.host, ":", options.port,
                                               " (port in use, or not an address of this host)"));
  s->grpc_->GetHealthCheckService()->SetServingStatus(false);
  return s;
}

absl::Status FusionServer::WarmUpAndServe(const WarmupProgress& progress) {
  pipeline_->Start();
  if (warm_up_)
    if (auto s = pipeline_->Warmup(warmup_sizes_, progress); !s.ok()) return s;
  service_->SetServing(true);
  grpc_->GetHealthCheckService()->SetServingStatus(true);
  metrics_.SetServing(true);
  return absl::OkStatus();
}

void FusionServer::Drain(std::chrono::seconds grace) {
  if (drained_) return;
  drained_ = true;
  metrics_.SetDraining(true);
  metrics_.SetServing(false);
  grpc_->GetHealthCheckService()->SetServingStatus(false);
  // First refuse new calls ourselves (UNAVAILABLE, which clients retry
  // elsewhere) while the accepted ones finish; gRPC's Shutdown would cancel
  // calls it has received but not started.
  service_->SetServing(false);
  const auto deadline = std::chrono::system_clock::now() + grace;
  service_->WaitUntilIdle(absl::FromChrono(deadline));
  // Nothing of ours is in flight now (or the grace is over): what is still
  // open holds no request (idle streams, health watches) and would hold the
  // exit until the deadline. A short shutdown grace lets calls being
  // refused right now finish; the rest is cancelled.
  grpc_->Shutdown(std::min(deadline, std::chrono::system_clock::now() + kShutdownGrace));
  pipeline_->Stop();
}

FusionServer::~FusionServer() {
  if (grpc_) Drain(std::chrono::seconds(5));
  // The metrics endpoint reads the pipeline's cache: stop it first.
  metrics_.StopServing();
}

}  // namespace ctrlfuse::server
