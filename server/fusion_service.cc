#include "server/fusion_service.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "proto/kinds.h"
#include "server/status_interceptor.h"

namespace ctrlfuse::server {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

namespace {
// The call's deadline in `clock`'s time (the pipeline's, which tests fake).
SteadyTime DeadlineOn(const Clock& clock, const grpc::ServerContext* context) {
  const auto d = context->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return SteadyTime::max();
  const auto left = d - std::chrono::system_clock::now();
  return clock.Now() + std::chrono::duration_cast<Duration>(left);
}
}  // namespace

FusionServiceImpl::FusionServiceImpl(FusionPipeline* pipeline, Metrics* metrics, v1::ModelInfo info,
                                     size_t stream_window, BearerAuth auth, size_t max_streams)
    : pipeline_(pipeline),
      metrics_(metrics),
      info_(std::move(info)),
      stream_window_(std::max<size_t>(1, stream_window)),
      auth_(std::move(auth)),
      max_streams_(std::max<size_t>(1, max_streams)) {}

absl::StatusOr<v1::FuseResponse> FusionServiceImpl::FuseCall(grpc::ServerContext* context,
                                                             const v1::FuseRequest& request, const char* method) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<v1::FuseResponse> result;
  if (auto auth = Authenticate(*context); !auth.ok()) {
    result = auth;
  } else {
    bool entered = false;
    {
      // Checked and counted under one lock (see SetServing).
      absl::MutexLock lock(&answered_mu_);
      if (serving_) {
        entered = true;
        metrics_->in_flight->Set(double(++in_pipeline_));  // the gauge shows this one count
      } else {
        result = absl::UnavailableError(
            served_ ? "server is draining (shutting down): retry on another server"
                    : absl::StrCat("server is ", v1::kWarmingUp, " (not SERVING yet): retry later"));
      }
    }
    if (entered) {
      result = pipeline_->Fuse(request, DeadlineOn(*pipeline_->clock(), context),
                               [context] { return context->IsCancelled(); });
      absl::MutexLock lock(&answered_mu_);
      metrics_->in_flight->Set(double(--in_pipeline_));
    }
  }
  CountAnswered(method, result.status(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return result;
}

void FusionServiceImpl::CountAnswered(const char* method, const absl::Status& status, double seconds) {
  metrics_->CountCall(method, status, seconds);
  absl::MutexLock lock(&answered_mu_);
  ++answered_;
}

uint64_t FusionServiceImpl::answered() const {
  absl::MutexLock lock(&answered_mu_);
  return answered_;
}

void FusionServiceImpl::WaitUntilAnswered(uint64_t n) const {
  // Conditions are evaluated with the mutex held, which the analysis cannot see.
  const auto reached = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return answered_ >= n; };
  absl::MutexLock lock(&answered_mu_, absl::Condition(&reached));
}

bool FusionServiceImpl::WaitUntilIdle(absl::Time deadline) const {
  const auto idle = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return in_pipeline_ == 0; };
  absl::MutexLock lock(&answered_mu_);
  return answered_mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

grpc::Status FusionServiceImpl::Fuse(grpc::ServerContext* context, const v1::FuseRequest* request,
                                     v1::FuseResponse* response) {
  auto r = FuseCall(context, *request, "Fuse");
  if (!r.ok()) return ToGrpc(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status FusionServiceImpl::FuseStream(grpc::ServerContext* context,
                                           grpc::ServerReaderWriter<v1::StreamFuseResponse, v1::FuseRequest>* stream) {
  // A stream without credentials ends at once (its frames would each be
  // refused).
  if (auto auth = Authenticate(*context); !auth.ok()) {
    CountAnswered("FuseStream", auth);
    return ToGrpc(auth);
  }
  // Counted while open; the one over the limit is refused at once.
  struct OpenStream {
    std::atomic<size_t>& n;
    ~OpenStream() { --n; }
  } open{open_streams_};
  if (++open_streams_ > max_streams_) {
    const absl::Status full = absl::ResourceExhaustedError(
        absl::StrCat("too many open streams (", max_streams_, "): retry later, or send unary Fuse calls"));
    CountAnswered("FuseStream", full);
    return ToGrpc(full);
  }
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::future<v1::StreamFuseResponse>> pending;  // request order
  bool reading_done = false;

  // Writer: waits for the oldest response, writes it, one write at a time;
  // its window slot frees only once it is written.
  std::thread writer([&] {
    bool broken = false;
    while (true) {
      std::future<v1::StreamFuseResponse>* oldest = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !pending.empty() || reading_done; });
        if (pending.empty()) return;
        oldest = &pending.front();  // stays valid: the reader only appends
      }
      v1::StreamFuseResponse resp = oldest->get();
      if (!broken && !stream->Write(resp)) broken = true;  // client gone: keep draining
      {
        std::lock_guard<std::mutex> lock(mu);
        pending.pop_front();
      }
      cv.notify_all();
    }
  });

  v1::FuseRequest request;
  bool draining = false;
  TakeParseError();  // a stale one from another call on this thread
  while (!draining && stream->Read(&request)) {
    draining = this->draining();  // this frame is refused (UNAVAILABLE) and is the last read
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return pending.size() < stream_window_; });
      pending.push_back(std::async(std::launch::async, [this, context, request] {
        v1::StreamFuseResponse out;
        auto r = FuseCall(context, request, "FuseStream");
        out.set_code(static_cast<int>(r.status().code()));
        out.set_message(std::string(r.status().message()));
        if (r.ok()) {
          *out.mutable_response() = std::move(*r);
        } else {
          out.mutable_response()->set_id(request.id());
        }
        return out;
      }));
    }
    cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    reading_done = true;
  }
  cv.notify_all();
  writer.join();
  if (context->IsCancelled()) return grpc::Status::CANCELLED;
  // gRPC ends Read on a frame it cannot parse as on the stream's end.
  if (const std::string field = TakeParseError(); !field.empty()) {
    const absl::Status bad = absl::InvalidArgumentError(
        absl::StrCat(field, ": invalid UTF-8 in a stream frame (string fields must be UTF-8); the stream ends here"));
    CountAnswered("FuseStream", bad);
    return ToGrpc(bad);
  }
  if (draining)
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "server is draining (shutting down): resume the stream on another server");
  return grpc::Status::OK;
}

grpc::Status FusionServiceImpl::GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest*,
                                             v1::ModelInfo* response) {
  if (auto auth = Authenticate(*context); !auth.ok()) {
    metrics_->CountCall("GetModelInfo", auth);
    return ToGrpc(auth);
  }
  *response = info_;
  metrics_->CountCall("GetModelInfo", absl::OkStatus());
  return grpc::Status::OK;
}

}  // namespace ctrlfuse::server
