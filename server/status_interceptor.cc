#include "server/status_interceptor.h"

#include <google/protobuf/stubs/logging.h>

#include <iostream>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/metrics.h"

namespace ctrlfuse::server {
namespace {

thread_local std::string t_parse_error_field;

// Protobuf's names for the request's string fields -> the API's paths.
std::string ApiPath(const std::string& full_name) {
  static const std::map<std::string, std::string> paths = {
      {"ctrlfuse.v1.FuseRequest.id", "id"},
      {"ctrlfuse.v1.TextPrompt.text", "prompt.text.text"},
      {"ctrlfuse.v1.FuseOptions.metrics", "options.metrics"},
      {"ctrlfuse.v1.FuseOptions.ir_normalization", "options.ir_normalization"},
  };
  auto it = paths.find(full_name);
  return it != paths.end() ? it->second : full_name;
}

void LogHandler(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  // "String field 'ctrlfuse.v1.FuseRequest.id' contains invalid UTF-8 data when parsing a protocol buffer. ..."
  constexpr absl::string_view kPrefix = "String field '";
  if (message.rfind(kPrefix.data(), 0) == 0 && message.find("invalid UTF-8 data when parsing") != std::string::npos) {
    const size_t end = message.find('\'', kPrefix.size());
    t_parse_error_field = ApiPath(message.substr(kPrefix.size(), end - kPrefix.size()));
    return;  // the caller gets it in its status; no log line per request
  }
  static const char* const kLevel[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  std::cerr << "[libprotobuf " << kLevel[std::min<int>(level, 3)] << " " << filename << ":" << line << "] " << message
            << std::endl;
}

// "/ctrlfuse.v1.FusionService/Fuse" -> "Fuse".
std::string MethodName(const char* full) {
  const std::string m = full ? full : "";
  const size_t slash = m.rfind('/');
  return slash == std::string::npos ? m : m.substr(slash + 1);
}

class StatusInterceptor : public grpc::experimental::Interceptor {
 public:
  StatusInterceptor(grpc::experimental::ServerRpcInfo* info, Metrics* metrics) : info_(info), metrics_(metrics) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      // Our handlers never answer INTERNAL without a message: this one is
      // gRPC's own, for a request it could not parse.
      if (status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().empty()) {
        const std::string field = TakeParseError();
        const std::string message =
            field.empty() ? "request: not a valid protobuf message of this method's request type"
                          : absl::StrCat(field, ": invalid UTF-8 (string fields must be UTF-8; send bytes elsewhere)");
        methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message));
        metrics_->CountCall(MethodName(info_->method()), absl::InvalidArgumentError(message));
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  Metrics* metrics_;
};

}  // namespace

StatusInterceptorFactory::StatusInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}

grpc::experimental::Interceptor* StatusInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new StatusInterceptor(info, metrics_);
}

void CaptureProtobufParseErrors() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&LogHandler); });
}

std::string TakeParseError() {
  std::string f;
  f.swap(t_parse_error_field);
  return f;
}

}  // namespace ctrlfuse::server
