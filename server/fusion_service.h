// ctrlfuse.v1.FusionService over gRPC's synchronous API: each call runs the
// pipeline on its handler thread; streams read ahead a bounded window of
// requests (so stream frames batch together) and write responses in order,
// one outstanding write at a time.
//
// Thread-safety: gRPC calls its methods from many threads; SetServing may
// be called from any. Ownership: pipeline and metrics are borrowed and must
// outlive the service.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "absl/synchronization/mutex.h"

#include "ctrlfuse/v1/fusion.grpc.pb.h"
#include "server/bearer_auth.h"
#include "server/fusion_pipeline.h"
#include "server/metrics.h"

namespace ctrlfuse::server {

class FusionServiceImpl final : public v1::FusionService::Service {
 public:
  // `stream_window`: requests of one stream in flight at once; a slow reader
  // stalls its own stream at this depth, never the server.
  // `auth`: the tokens every fusion call must carry (none: open).
  // `max_streams`: FuseStreams open at once (each holds two threads and
  // up to `stream_window` requests); more get RESOURCE_EXHAUSTED.
  FusionServiceImpl(FusionPipeline* pipeline, Metrics* metrics, v1::ModelInfo info, size_t stream_window,
                    BearerAuth auth = BearerAuth(), size_t max_streams = 64);

  // While not serving (warming up, draining) fusion calls get UNAVAILABLE.
  // Until the first SetServing(true) fusion calls get UNAVAILABLE "server is
  // warming up", after a SetServing(false) "server is draining" (clients
  // wait for the first, and go elsewhere on the second).
  // Under the in-flight count's lock: once SetServing(false) returns, no
  // call can still enter the pipeline, so WaitUntilIdle's answer holds.
  void SetServing(bool serving) ABSL_LOCKS_EXCLUDED(answered_mu_) {
    absl::MutexLock lock(&answered_mu_);
    if (serving) served_ = true;
    serving_ = serving;
  }

  // Fusion calls (stream messages one each) answered so far, and a wait
  // for a count: lets tests order events without sleeping.
  uint64_t answered() const;
  void WaitUntilAnswered(uint64_t n) const;
  // Waits until no fusion call is in the pipeline (or `deadline`); true
  // when idle. Drain uses it so that calls arriving meanwhile are refused
  // with a retryable UNAVAILABLE by this service rather than cut off by
  // gRPC's shutdown.
  bool WaitUntilIdle(absl::Time deadline) const;

  grpc::Status Fuse(grpc::ServerContext* context, const v1::FuseRequest* request, v1::FuseResponse* response) override;
  // Ends after the first frame answered while draining (UNAVAILABLE, so
  // the client resumes elsewhere); an idle stream is ended by the drain's
  // shutdown.
  grpc::Status FuseStream(grpc::ServerContext* context,
                          grpc::ServerReaderWriter<v1::StreamFuseResponse, v1::FuseRequest>* stream) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;

  // One fusion call as every API makes it (this service's Fuse and streams,
  // the KServe v2 service's ModelInfer): refused while not serving, counted
  // in flight (Drain waits for it), its metrics under `method`.
  absl::StatusOr<v1::FuseResponse> FuseCall(grpc::ServerContext* context, const v1::FuseRequest& request,
                                            const char* method);
  // Counts one answered fusion call: its metrics (requests and failures
  // under `method`) and answered(). FuseCall ends with it; a call refused
  // before it reaches FuseCall (a malformed ModelInfer) uses it directly.
  // `seconds`: how long the call took in the server (< 0: not timed).
  void CountAnswered(const char* method, const absl::Status& status, double seconds = -1);
  // UNAUTHENTICATED unless the call carries a configured bearer token (OK
  // when none is configured). FuseCall checks it; ModelInfer checks it
  // before it says anything about the request.
  absl::Status Authenticate(const grpc::ServerContext& context) const { return auth_.Check(context); }
  // Served once and not any more.
  bool draining() const ABSL_LOCKS_EXCLUDED(answered_mu_) {
    absl::MutexLock lock(&answered_mu_);
    return served_ && !serving_;
  }
  bool serving() const ABSL_LOCKS_EXCLUDED(answered_mu_) {
    absl::MutexLock lock(&answered_mu_);
    return serving_;
  }
  const v1::ModelInfo& info() const { return info_; }

 private:
  FusionPipeline* pipeline_;
  Metrics* metrics_;
  const v1::ModelInfo info_;
  const size_t stream_window_;
  const BearerAuth auth_;
  const size_t max_streams_;
  std::atomic<size_t> open_streams_{0};
  mutable absl::Mutex answered_mu_;
  bool serving_ ABSL_GUARDED_BY(answered_mu_) = false;
  bool served_ ABSL_GUARDED_BY(answered_mu_) = false;
  uint64_t answered_ ABSL_GUARDED_BY(answered_mu_) = 0;
  int64_t in_pipeline_ ABSL_GUARDED_BY(answered_mu_) = 0;
};

// absl::Status and grpc::Status share code numbers.
grpc::Status ToGrpc(const absl::Status& s);

}  // namespace ctrlfuse::server
