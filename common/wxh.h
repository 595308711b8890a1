// "WxH" sizes as flags write them ("320x240"; lists "320x240,640x480"):
// the one parser of the server's and the tools' size flags.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ctrlfuse::common {

struct WxH {
  int width = 0, height = 0;
};

// One size; both sides at least `min_side`. Errors name the flag:
// "--synthetic: '12x9' is not WxH (each side at least 16)".
absl::StatusOr<WxH> ParseWxH(absl::string_view text, absl::string_view flag, int min_side = 1);
// A comma-separated list (empty text = empty list).
absl::StatusOr<std::vector<WxH>> ParseWxHList(absl::string_view text, absl::string_view flag);

}  // namespace ctrlfuse::common
