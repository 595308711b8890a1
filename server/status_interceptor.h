// A gRPC server interceptor that gives a request gRPC could not parse a
// status a client can act on. When a request is not a valid protobuf of
// its method's type — garbage bytes, or a string field (id, prompt.text,
// options.metrics, ...) holding invalid UTF-8, which proto3 refuses —
// gRPC answers INTERNAL with an empty message and never calls the handler.
// The interceptor turns that into INVALID_ARGUMENT naming the field when
// protobuf named it (captured from its log, which no longer prints an
// ERROR line per request) and counts the call in ctrlfuse_requests_total
// like every handled one.
//
// Streams: a frame that does not parse ends gRPC's Read as the stream's
// end would; FuseStream asks TakeParseError() to tell the two apart for
// invalid UTF-8 (garbage bytes cannot be told apart: the stream ends OK).
//
// Thread-safety: gRPC creates one interceptor per call; the capture is
// per thread (gRPC parses a request on the thread that then runs or
// refuses it).
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <string>

namespace ctrlfuse::server {

class Metrics;

class StatusInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` is borrowed and must outlive the server.
  explicit StatusInterceptorFactory(Metrics* metrics);
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  Metrics* metrics_;
};

// Routes protobuf's log through a handler that keeps, per thread, the
// field named by the last "invalid UTF-8" parse error (other messages are
// printed as before). Idempotent.
void CaptureProtobufParseErrors();
// The field of this thread's last parse error as the API names it
// ("id", "prompt.text.text", "options.metrics"), or "" when there was none;
// clears it.
std::string TakeParseError();

}  // namespace ctrlfuse::server
