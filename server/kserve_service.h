// The Open Inference Protocol (KServe v2, proto/inference/grpc_predict_v2.proto)
// beside ctrlfuse.v1 on the same port, for tooling that speaks it (Triton's
// tritonclient and perf_analyzer, KServe). One model, "ctrlfuse", version
// "1". ModelInfer is translated into a ctrlfuse.v1 FuseRequest and runs
// through FusionServiceImpl::FuseCall: the same batcher, cache, limits,
// serving state and metrics (method label "ModelInfer"). docs/kserve.md has
// the tensor mapping.
//
// Thread-safety: gRPC calls the methods from many threads; the translation
// functions are pure. Ownership: the fusion service is borrowed and must
// outlive this one.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "server/fusion_service.h"

namespace ctrlfuse::server {

inline constexpr char kKServeModelName[] = "ctrlfuse";

// Inputs INFRARED, VISIBLE (UINT8/UINT16 [H,W] or [H,W,3] RGB, optionally
// with a leading batch dimension of 1, or BYTES [1] holding an encoded
// image) and optional MASK (UINT8 [H,W] or BYTES); parameters color (bool),
// metrics (comma-separated names), ir_normalization (string). Errors are
// INVALID_ARGUMENT naming the tensor or parameter.
absl::StatusOr<v1::FuseRequest> FuseRequestFromInfer(const inference::ModelInferRequest& infer);

// Outputs FUSED (UINT8 [H,W] or [H,W,3] RGB), MASK, MASK_VISIBLE,
// MASK_INFRARED, PROMPT_MASK (UINT8 [H,W], 0/255) as raw contents, in the
// requested order (none requested: FUSED and MASK); the quality metrics as
// double parameters "metric.NAME".
absl::Status InferResponseFromFuse(const inference::ModelInferRequest& infer, const v1::FuseResponse& fused,
                                   inference::ModelInferResponse* out);

class KServeServiceImpl final : public inference::GRPCInferenceService::Service {
 public:
  KServeServiceImpl(FusionServiceImpl* fusion, std::string version) : fusion_(fusion), version_(std::move(version)) {}

  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::Status ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override;

 private:
  FusionServiceImpl* fusion_;
  const std::string version_;
};

}  // namespace ctrlfuse::server
