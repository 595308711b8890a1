// Optional bearer-token authentication of the fusion calls: with tokens
// configured, every ctrlfuse.v1.FusionService call and KServe ModelInfer
// must carry "authorization: Bearer <token>" with one of them, else
// UNAUTHENTICATED. grpc.health.v1, reflection and the KServe liveness,
// readiness and metadata calls stay open (probes and load balancers have
// no token). Tokens are compared in constant time. Over plaintext a token
// can be read off the wire: use it with TLS (the server warns otherwise).
//
// Thread-safety: immutable after construction; Check may be called from
// any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ctrlfuse::server {

class BearerAuth {
 public:
  BearerAuth() = default;  // no tokens: every call is let through
  explicit BearerAuth(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

  // One token per line; blank lines and lines starting with '#' skipped.
  // INVALID_ARGUMENT naming `option` when the file cannot be read or holds
  // no token.
  static absl::StatusOr<std::vector<std::string>> ReadTokens(const std::string& path, const std::string& option);

  bool enabled() const { return !tokens_.empty(); }
  // OK, or UNAUTHENTICATED saying what was wrong (never the token).
  absl::Status Check(const grpc::ServerContext& context) const;

 private:
  std::vector<std::string> tokens_;
};

}  // namespace ctrlfuse::server
