// Names of the API's enumerations and prompt kinds, read from one place by
// the server (ModelInfo, error messages) and the clients (file names).
// Thread-safety: immutable tables; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "ctrlfuse/v1/fusion.pb.h"

namespace ctrlfuse::v1 {

struct MaskKindInfo {
  MaskKind kind;
  const char* file_stem;  // what the CLI names the file: <id>_<stem>.png
};
// Every returnable mask kind (not UNSPECIFIED), in enum order.
const std::vector<MaskKindInfo>& MaskKinds();
// The file stem of `kind`; "unknown" for a value outside the table.
const char* MaskKindName(MaskKind kind);

// The field name of a Prompt oneof case ("mask", "boxes", ...), from the
// proto descriptor; "" for KIND_NOT_SET.
std::string PromptKindName(Prompt::KindCase kind);

// The phrase a server's UNAVAILABLE contains while it warms up: clients
// (client/fusion_client.cc, clients/python) keep waiting on it, and go
// elsewhere on any other UNAVAILABLE (a full queue, a drain).
inline constexpr char kWarmingUp[] = "warming up";

}  // namespace ctrlfuse::v1
