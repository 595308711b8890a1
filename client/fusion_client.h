// Client library for ctrlfuse.v1.FusionService, used by ctrlfuse-client,
// the tests and the benchmarks: channel setup (plain or TLS), per-call
// deadlines, and retries with exponential backoff for UNAVAILABLE.
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
  double backoff_seconds = 0.1;  // first backoff, doubled each retry (with jitter)
  int64_t max_message_bytes = 64ll << 20;
};

class FusionClient {
 public:
  static absl::StatusOr<std::unique_ptr<FusionClient>> Create(const ClientOptions& options);

  absl::StatusOr<v1::FuseResponse> Fuse(const v1::FuseRequest& request);
  absl::StatusOr<v1::ModelInfo> GetModelInfo();
  // Sends all requests on one stream, calls on_response for each response
  // in order; returns the stream's final status.
  absl::Status FuseStream(const std::vector<v1::FuseRequest>& requests,
                          const std::function<void(const v1::StreamFuseResponse&)>& on_response);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  FusionClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel);
  void SetDeadline(grpc::ClientContext* context) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::FusionService::Stub> stub_;
};

absl::Status FromGrpc(const grpc::Status& s);

}  // namespace ctrlfuse::client
