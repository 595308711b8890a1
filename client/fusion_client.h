// Client library for ctrlfuse.v1.FusionService, used by ctrlfuse-client,
// the tests and the benchmarks: channel setup (plain or TLS), client-side
// load balancing, per-call deadlines, retries with exponential backoff for
// UNAVAILABLE, and grpc.health.v1 checks.
//
// Load balancing: with a `dns:///name:port` target (a Kubernetes headless
// Service) the resolver returns every pod's address, and the default
// round_robin policy spreads calls over all of them, connecting to new pods
// as DNS reports them; `pick_first` sends everything to one.
//
// Thread-safety: a FusionClient may be used from several threads at once
// (gRPC stubs and channels are thread-safe).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.grpc.pb.h"

namespace ctrlfuse::client {

struct ClientOptions {
  std::string address = "localhost:50051";
  // TLS: set ca_file to use TLS; cert_file/key_file add a client certificate.
  std::string ca_file, cert_file, key_file;
  double deadline_seconds = 60;  // per call (per stream for FuseStream); <= 0: none
  int retries = 3;               // extra attempts after UNAVAILABLE
  // Beyond `retries`, an UNAVAILABLE that says the server is warming up
  // (minutes for the large models) is retried until this much time has
  // passed since the first attempt. 0: `retries` only.
  double wait_for_server_seconds = 0;
  double backoff_seconds = 0.1;      // first backoff, doubled each retry (with jitter)
  double max_backoff_seconds = 2.0;  // the backoff stops growing here
  int64_t max_message_bytes = 64ll << 20;
  std::string load_balancing = "round_robin";  // gRPC LB policy: round_robin or pick_first
  // Sent as "authorization: Bearer <token>" with every call (a server
  // started with --auth_token_file requires it); empty: none.
  std::string bearer_token;
};

class FusionClient {
 public:
  static absl::StatusOr<std::unique_ptr<FusionClient>> Create(const ClientOptions& options);

  // Both retry UNAVAILABLE (ClientOptions: retries, wait_for_server_seconds).
  absl::StatusOr<v1::FuseResponse> Fuse(const v1::FuseRequest& request);
  absl::StatusOr<v1::ModelInfo> GetModelInfo();
  // grpc.health.v1 Check for `service` ("" = the whole server): "SERVING",
  // "NOT_SERVING", ... or the call's error. Never retried (a probe).
  absl::StatusOr<std::string> Health(const std::string& service = "");
  // Sends all requests on one stream, calls on_response for each response
  // in order; returns the stream's final status.
  absl::Status FuseStream(const std::vector<v1::FuseRequest>& requests,
                          const std::function<void(const v1::StreamFuseResponse&)>& on_response);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  FusionClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel);
  // The per-call deadline and credentials.
  void PrepareContext(grpc::ClientContext* context) const;
  // Runs `call` with a fresh context (PrepareContext) per attempt, retrying
  // UNAVAILABLE as ClientOptions says; the last status.
  grpc::Status WithRetries(const std::function<grpc::Status(grpc::ClientContext*)>& call) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::FusionService::Stub> stub_;
};

absl::Status FromGrpc(const grpc::Status& s);

}  // namespace ctrlfuse::client
