#include "server/bearer_auth.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ctrlfuse::server {
namespace {

// Equal strings in time that depends only on the lengths (no early exit on
// the first differing byte).
bool ConstantTimeEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> BearerAuth::ReadTokens(const std::string& path, const std::string& option) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(option, ": cannot read ", path));
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    const absl::string_view t = absl::StripAsciiWhitespace(line);
    if (t.empty() || t[0] == '#') continue;
    tokens.emplace_back(t);
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(option, ": ", path, " holds no token"));
  return tokens;
}

absl::Status BearerAuth::Check(const grpc::ServerContext& context) const {
  if (tokens_.empty()) return absl::OkStatus();
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end())
    return absl::UnauthenticatedError("missing credentials: send 'authorization: Bearer <token>' metadata");
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ") && !absl::ConsumePrefix(&value, "bearer "))
    return absl::UnauthenticatedError("authorization metadata is not 'Bearer <token>'");
  bool known = false;
  for (const auto& t : tokens_) known |= ConstantTimeEqual(value, t);  // no early exit either
  if (!known) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

}  // namespace ctrlfuse::server
