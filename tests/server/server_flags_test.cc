// ctrlfuse-server's flags: impossible values are refused with the flag's
// name (the process exits 2 on them, before loading a model), and the
// bearer-token file is read as documented.
#include "server/server_flags.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"

ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(int, metrics_port);
ABSL_DECLARE_FLAG(double, max_queue_delay_ms);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(int64_t, cache_mb);
ABSL_DECLARE_FLAG(uint64_t, max_pixels);
ABSL_DECLARE_FLAG(int, max_concurrent_decodes);
ABSL_DECLARE_FLAG(std::string, auth_token_file);
ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(double, box_threshold);
ABSL_DECLARE_FLAG(double, text_threshold);
ABSL_DECLARE_FLAG(std::string, grounding_checkpoint);
ABSL_DECLARE_FLAG(std::string, grounding_vocab);
ABSL_DECLARE_FLAG(std::string, grounding_config);

namespace ctrlfuse::server {
namespace {

std::string Refusal() {
  auto o = ServerOptionsFromFlags();
  return o.ok() ? "accepted" : std::string(o.status().message());
}

TEST(ServerFlagsTest, ImpossibleValuesAreRefusedByName) {
  const std::vector<std::pair<std::function<void()>, std::string>> cases = {
      {[] { absl::SetFlag(&FLAGS_port, 99999); }, "--port: 99999 is not 0..65535"},
      {[] { absl::SetFlag(&FLAGS_port, -1); }, "--port: -1 is not 0..65535"},
      {[] { absl::SetFlag(&FLAGS_metrics_port, 70000); }, "--metrics_port: 70000 is not -1 (off) or 0..65535"},
      {[] { absl::SetFlag(&FLAGS_metrics_port, 50051); }, "--metrics_port: 50051 is also the gRPC port"},
      {[] { absl::SetFlag(&FLAGS_max_queue_delay_ms, std::nan("")); }, "--max_queue_delay_ms: nan is not a delay"},
      {[] { absl::SetFlag(&FLAGS_max_queue_delay_ms, -1.0); }, "--max_queue_delay_ms: -1 is not a delay"},
      {[] { absl::SetFlag(&FLAGS_threads, -2); }, "--threads: -2 is negative"},
      {[] { absl::SetFlag(&FLAGS_cache_mb, -1); }, "--cache_mb: -1 is not 0 to 2^40 MiB"},
      {[] { absl::SetFlag(&FLAGS_max_pixels, 0); }, "--max_pixels: 0 must be at least 1"},
      {[] { absl::SetFlag(&FLAGS_max_concurrent_decodes, 0); }, "--max_concurrent_decodes: must be at least 1"},
      {[] { absl::SetFlag(&FLAGS_host, ""); }, "--host: must not be empty"},
      {[] { absl::SetFlag(&FLAGS_auth_token_file, "/nonexistent/tokens"); },
       "--auth_token_file: cannot read /nonexistent/tokens"},
      {[] { absl::SetFlag(&FLAGS_box_threshold, 1.0); }, "--box_threshold: 1 is not in (0, 1)"},
      {[] { absl::SetFlag(&FLAGS_text_threshold, 0.0); }, "--text_threshold: 0 is not in (0, 1)"},
  };
  ASSERT_EQ(Refusal(), "accepted");  // the defaults
  for (const auto& [set, message] : cases) {
    absl::FlagSaver restore;
    set();
    EXPECT_EQ(Refusal().rfind(message, 0), 0u) << message << " | got: " << Refusal();
  }
}

TEST(ServerFlagsTest, TextPromptsAreOnWithAGroundingCheckpointAndItsThresholdsAreTheDefaults) {
  absl::FlagSaver restore;
  EXPECT_FALSE(GroundingOptionsFromFlags().has_value());  // off by default: UNIMPLEMENTED
  absl::SetFlag(&FLAGS_grounding_checkpoint, "/models/groundingdino_swint_ogc.pth");
  absl::SetFlag(&FLAGS_grounding_vocab, "/models/vocab.txt");
  auto g = GroundingOptionsFromFlags();
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->config, "swint_ogc");
  EXPECT_EQ(g->checkpoint, "/models/groundingdino_swint_ogc.pth");
  EXPECT_EQ(g->vocab, "/models/vocab.txt");
  absl::SetFlag(&FLAGS_box_threshold, 0.3);  // the Grounded-SAM demo's
  auto o = ServerOptionsFromFlags();
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FLOAT_EQ(o->pipeline.limits.text_defaults.box_threshold, 0.3f);
  EXPECT_FLOAT_EQ(o->pipeline.limits.text_defaults.text_threshold, 0.25f);
  // A vocabulary the engine cannot read stops the start with the flag named.
  api::GroundingOptions bad = *g;
  bad.config = "tiny";
  bad.checkpoint.clear();
  auto engine = api::GroundingEngine::Create(bad);
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine.status().message().rfind("grounding_vocab: cannot read", 0), 0u) << engine.status();
}

TEST(ServerFlagsTest, TokenFileSkipsCommentsAndBlankLinesAndMustHoldOne) {
  const std::string path = ::testing::TempDir() + "/tokens.txt";
  std::ofstream(path) << "# operators\n\n  alpha-token  \nbeta\n";
  absl::FlagSaver restore;
  absl::SetFlag(&FLAGS_auth_token_file, path);
  auto o = ServerOptionsFromFlags();
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->auth_tokens, (std::vector<std::string>{"alpha-token", "beta"}));
  std::ofstream(path) << "# none yet\n\n";
  EXPECT_EQ(Refusal(), "--auth_token_file: " + path + " holds no token");
}

}  // namespace
}  // namespace ctrlfuse::server
