#include "common/wxh.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ctrlfuse::common {

absl::StatusOr<WxH> ParseWxH(absl::string_view text, absl::string_view flag, int min_side) {
  std::vector<absl::string_view> wh = absl::StrSplit(text, 'x');
  WxH s;
  if (wh.size() != 2 || !absl::SimpleAtoi(wh[0], &s.width) || !absl::SimpleAtoi(wh[1], &s.height) ||
      s.width < min_side || s.height < min_side)
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": '", text, "' is not WxH",
                     min_side > 1 ? absl::StrCat(" (each side at least ", min_side, ")") : std::string()));
  return s;
}

absl::StatusOr<std::vector<WxH>> ParseWxHList(absl::string_view text, absl::string_view flag) {
  std::vector<WxH> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    auto s = ParseWxH(part, flag);
    if (!s.ok()) return s.status();
    out.push_back(*s);
  }
  return out;
}

}  // namespace ctrlfuse::common
