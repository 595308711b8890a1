// Command-line flags of ctrlfuse-server (absl flags) and their conversion
// into the engine's and the server's options.
#pragma once

#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "model/api/fusion_engine.h"
#include "model/api/grounding_engine.h"
#include "server/fusion_server.h"

ABSL_DECLARE_FLAG(int, drain_seconds);

namespace ctrlfuse::server {

// "320x240,640x480" -> sizes; errors name the flag.
absl::StatusOr<std::vector<cv::Size>> ParseSizes(const std::string& text, const std::string& flag);

api::EngineOptions EngineOptionsFromFlags();
// The grounding engine's options; nullopt when --grounding_checkpoint is
// empty (no text prompts).
std::optional<api::GroundingOptions> GroundingOptionsFromFlags();
// Errors name the flag.
absl::StatusOr<ServerOptions> ServerOptionsFromFlags();

}  // namespace ctrlfuse::server
