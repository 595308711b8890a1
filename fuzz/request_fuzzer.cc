// A whole FuseRequest from any bytes, as the server sees one: protobuf
// parsing, then ParseRequest (both images decoded, sizes compared, the
// prompt parsed — mask, RLE, boxes, points, text — and the options). Every
// refusal must be INVALID_ARGUMENT or UNIMPLEMENTED (text prompts) with a
// message that starts with a field name.
#include <cstddef>
#include <cstdint>

#include "ctrlfuse/v1/fusion.pb.h"
#include "server/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctrlfuse::v1::FuseRequest request;
  if (!request.ParseFromArray(data, int(size))) return 0;
  ctrlfuse::server::ParseLimits limits;
  limits.max_pixels = 1 << 18;
  static const std::vector<std::string> kMetrics = {"EN", "SD", "SSIM", "Qabf"};
  auto parsed = ctrlfuse::server::ParseRequest(request, limits, kMetrics);
  if (parsed.ok()) return 0;
  const auto code = parsed.status().code();
  if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kUnimplemented) __builtin_trap();
  if (parsed.status().message().empty()) __builtin_trap();
  return 0;
}
