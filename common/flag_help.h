// --help for the project's programs: absl lists only flags defined in a file
// named after the program (ctrlfuse-client.cc, ...), which ours are not,
// and printed "No flags matched". Call before absl::ParseCommandLine.
// Thread-safety: call once, from main, before any flag is parsed.
#pragma once

#include <string>

namespace ctrlfuse::common {

// --help and --helpshort list the flags of every file under `folder`
// ("client/", "server/").
void HelpListsFlagsFrom(const std::string& folder);

}  // namespace ctrlfuse::common
