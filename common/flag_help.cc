#include "common/flag_help.h"

#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace ctrlfuse::common {

void HelpListsFlagsFrom(const std::string& folder) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [folder](absl::string_view file) { return absl::StrContains(file, folder); };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
}

}  // namespace ctrlfuse::common
