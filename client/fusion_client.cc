#include "client/fusion_client.h"

#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "image/codec.h"
#include "proto/kinds.h"

namespace ctrlfuse::client {

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

absl::StatusOr<std::unique_ptr<FusionClient>> FusionClient::Create(const ClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.ca_file.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    auto ca = image::ReadFile(options.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    if (!options.cert_file.empty()) {
      auto cert = image::ReadFile(options.cert_file);
      auto key = image::ReadFile(options.key_file);
      if (!cert.ok()) return cert.status();
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  }
  if (options.bearer_token.find_first_of("\r\n") != std::string::npos)
    return absl::InvalidArgumentError("bearer_token: must be one line");
  if (options.load_balancing != "round_robin" && options.load_balancing != "pick_first")
    return absl::InvalidArgumentError(
        absl::StrCat("load_balancing: '", options.load_balancing, "' is not round_robin or pick_first"));
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName(options.load_balancing);
  args.SetMaxReceiveMessageSize(int(options.max_message_bytes));
  args.SetMaxSendMessageSize(int(options.max_message_bytes));
  auto channel = grpc::CreateCustomChannel(options.address, creds, args);
  return std::unique_ptr<FusionClient>(new FusionClient(options, channel));
}

FusionClient::FusionClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)), channel_(std::move(channel)), stub_(v1::FusionService::NewStub(channel_)) {}

void FusionClient::PrepareContext(grpc::ClientContext* context) const {
  if (options_.deadline_seconds > 0)
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(int64_t(options_.deadline_seconds * 1e6)));
  if (!options_.bearer_token.empty()) context->AddMetadata("authorization", "Bearer " + options_.bearer_token);
}

grpc::Status FusionClient::WithRetries(const std::function<grpc::Status(grpc::ClientContext*)>& call) const {
  thread_local std::mt19937 rng(std::random_device{}());
  const auto start = std::chrono::steady_clock::now();
  double backoff = options_.backoff_seconds;
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    PrepareContext(&context);
    grpc::Status s = call(&context);
    if (s.ok() || s.error_code() != grpc::StatusCode::UNAVAILABLE) return s;
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    const double pause = std::min(backoff, options_.max_backoff_seconds) * jitter(rng);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Count-limited retries for a busy or unreachable server; time-limited
    // ones while it says it is warming up (fusion_service.cc's message).
    const bool warming_up = s.error_message().find(v1::kWarmingUp) != std::string::npos;
    if (attempt >= options_.retries && !(warming_up && waited + pause <= options_.wait_for_server_seconds)) return s;
    std::this_thread::sleep_for(std::chrono::duration<double>(pause));
    backoff *= 2;
  }
}

absl::StatusOr<v1::FuseResponse> FusionClient::Fuse(const v1::FuseRequest& request) {
  v1::FuseResponse response;
  grpc::Status s = WithRetries([&](grpc::ClientContext* context) {
    response.Clear();
    return stub_->Fuse(context, request, &response);
  });
  if (!s.ok()) return FromGrpc(s);
  return response;
}

absl::StatusOr<v1::ModelInfo> FusionClient::GetModelInfo() {
  v1::ModelInfo info;
  grpc::Status s = WithRetries([&](grpc::ClientContext* context) {
    info.Clear();
    return stub_->GetModelInfo(context, v1::GetModelInfoRequest(), &info);
  });
  if (!s.ok()) return FromGrpc(s);
  return info;
}

absl::StatusOr<std::string> FusionClient::Health(const std::string& service) {
  grpc::ClientContext context;
  PrepareContext(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = grpc::health::v1::Health::NewStub(channel_)->Check(&context, request, &response);
  if (!s.ok()) return FromGrpc(s);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

absl::Status FusionClient::FuseStream(const std::vector<v1::FuseRequest>& requests,
                                      const std::function<void(const v1::StreamFuseResponse&)>& on_response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  auto stream = stub_->FuseStream(&context);
  // Write on a separate thread so reading proceeds while frames are sent.
  std::thread writer([&] {
    for (const auto& r : requests)
      if (!stream->Write(r)) break;
    stream->WritesDone();
  });
  v1::StreamFuseResponse response;
  while (stream->Read(&response)) on_response(response);
  writer.join();
  return FromGrpc(stream->Finish());
}

}  // namespace ctrlfuse::client
