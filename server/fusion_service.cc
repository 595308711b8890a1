#include "server/fusion_service.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace ctrlfuse::server {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

const char* CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal:
      return "INTERNAL";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    default:
      return "UNKNOWN";
  }
}

namespace {
SteadyTime SteadyDeadline(const grpc::ServerContext* context) {
  const auto d = context->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return SteadyTime::max();
  const auto left = d - std::chrono::system_clock::now();
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<Duration>(left);
}
}  // namespace

FusionServiceImpl::FusionServiceImpl(FusionPipeline* pipeline, Metrics* metrics, v1::ModelInfo info,
                                     size_t stream_window)
    : pipeline_(pipeline),
      metrics_(metrics),
      info_(std::move(info)),
      stream_window_(std::max<size_t>(1, stream_window)) {}

absl::StatusOr<v1::FuseResponse> FusionServiceImpl::FuseOne(grpc::ServerContext* context,
                                                            const v1::FuseRequest& request, const char* method) {
  absl::StatusOr<v1::FuseResponse> result;
  if (!serving_) {
    metrics_->CountFailure(FailureReason::kRejected);
    result = absl::UnavailableError("server is not serving (warming up or draining)");
  } else {
    metrics_->in_flight->Increment();
    result = pipeline_->Fuse(request, SteadyDeadline(context), [context] { return context->IsCancelled(); });
    metrics_->in_flight->Decrement();
    // Rejections, deadlines and cancels are counted where they happen.
    switch (result.status().code()) {
      case absl::StatusCode::kInvalidArgument:
        metrics_->CountFailure(FailureReason::kInvalid);
        break;
      case absl::StatusCode::kInternal:
        metrics_->CountFailure(FailureReason::kInternal);
        break;
      case absl::StatusCode::kUnimplemented:
        metrics_->CountFailure(FailureReason::kUnimplemented);
        break;
      default:
        break;
    }
  }
  metrics_->CountRequest(method, CodeName(result.status().code()));
  return result;
}

grpc::Status FusionServiceImpl::Fuse(grpc::ServerContext* context, const v1::FuseRequest* request,
                                     v1::FuseResponse* response) {
  auto r = FuseOne(context, *request, "Fuse");
  if (!r.ok()) return ToGrpc(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status FusionServiceImpl::FuseStream(grpc::ServerContext* context,
                                           grpc::ServerReaderWriter<v1::StreamFuseResponse, v1::FuseRequest>* stream) {
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
  while (stream->Read(&request)) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return pending.size() < stream_window_; });
      pending.push_back(std::async(std::launch::async, [this, context, request] {
        v1::StreamFuseResponse out;
        auto r = FuseOne(context, request, "FuseStream");
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
  return context->IsCancelled() ? grpc::Status::CANCELLED : grpc::Status::OK;
}

grpc::Status FusionServiceImpl::GetModelInfo(grpc::ServerContext*, const v1::GetModelInfoRequest*,
                                             v1::ModelInfo* response) {
  *response = info_;
  metrics_->CountRequest("GetModelInfo", "OK");
  return grpc::Status::OK;
}

}  // namespace ctrlfuse::server
