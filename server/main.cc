// ctrlfuse-server: serves CtrlFuse over gRPC with dynamic batching, an
// encode cache, health, reflection and Prometheus metrics (the assembly is
// server/fusion_server.h, shared with the tests).
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/flag_help.h"
#include "server/fusion_server.h"
#include "server/server_flags.h"
#include "server/stop_signals.h"

namespace {

void Log(absl::string_view msg) {
  std::cerr << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()) << " ctrlfuse-server: " << msg
            << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctrlfuse;
  absl::SetProgramUsageMessage(
      "Serves CtrlFuse (mask-prompt controllable infrared-visible image fusion) over gRPC.\n"
      "  ctrlfuse-server [--config=tiny] [--checkpoint=FILE] [--device=cpu] [--port=50051] [--metrics_port=9464]\n"
      "Health: grpc.health.v1 (NOT_SERVING while warming up and draining). SIGTERM/SIGINT drain, then exit 0.");
  common::HelpListsFlagsFrom("server/");
  absl::ParseCommandLine(argc, argv);
  // Before anything slow: a signal during the model load or the warm-up is
  // honoured at the next step, never the default (killing) action.
  const bool handled = server::StopSignals::Install([](int sig, int count) {
    if (count == 1)
      Log(absl::StrCat("signal ", sig, ": stopping"));
    else
      Log(absl::StrCat("signal ", sig, " again (", count, " so far): still draining; SIGKILL stops at once"));
  });
  if (!handled) {
    Log("cannot install the SIGTERM/SIGINT handlers");
    return 1;
  }

  const auto engine_options = server::EngineOptionsFromFlags();
  auto server_options = server::ServerOptionsFromFlags();
  if (!server_options.ok()) {
    Log(server_options.status().message());
    return 2;
  }
  Log(absl::StrCat("loading model config=", engine_options.config, " device=", engine_options.device,
                   " precision=", engine_options.precision,
                   engine_options.checkpoint.empty() ? " (no checkpoint: seeded random weights, untrained)"
                                                     : " checkpoint=" + engine_options.checkpoint));
  auto engine = api::FusionEngine::Create(engine_options);
  if (!engine.ok()) {
    Log(engine.status().message());
    return 1;
  }
  std::unique_ptr<api::GroundingEngine> grounding;
  if (const auto grounding_options = server::GroundingOptionsFromFlags()) {
    Log(absl::StrCat("loading GroundingDINO config=", grounding_options->config,
                     " checkpoint=", grounding_options->checkpoint, " vocab=", grounding_options->vocab));
    auto created = api::GroundingEngine::Create(*grounding_options);
    if (!created.ok()) {
      Log(created.status().message());
      return 1;
    }
    grounding = std::move(*created);
    server_options->pipeline.grounding = grounding.get();
  } else {
    Log("text prompts off (no --grounding_checkpoint): they answer UNIMPLEMENTED");
  }
  if (server::StopSignals::count() > 0) {
    Log("stopped before listening (signal during the model load)");
    return 0;
  }
  server::RealClock clock;
  auto server = server::FusionServer::Create(engine->get(), *server_options, &clock);
  if (!server.ok()) {
    Log(server.status().message());
    return 1;
  }
  if (!(*server)->gpu_metrics_unavailable().empty())
    Log(absl::StrCat("no GPU metrics: ", (*server)->gpu_metrics_unavailable()));
  if (!server_options->auth_tokens.empty() && server_options->tls.cert_file.empty())
    Log("warning: --auth_token_file without TLS: tokens cross the network in the clear");
  if ((*server)->metrics_port() > 0) {
    const std::string& metrics_host =
        server_options->metrics_host.empty() ? server_options->host : server_options->metrics_host;
    Log(absl::StrCat("metrics on http://", metrics_host, ":", (*server)->metrics_port(),
                     "/metrics (also /healthz, /readyz)"));
    std::cout << "metrics_port " << (*server)->metrics_port() << "\n";
  }
  Log(absl::StrCat("listening on port ", (*server)->port(), " (NOT_SERVING while warming up)"));
  std::cout << "port " << (*server)->port() << std::endl;  // machine-readable, for tests and scripts

  const auto warm_start = absl::Now();
  // One line per step: warm-up of the large models takes minutes.
  auto progress = [](const server::WarmupStep& step) {
    Log(absl::StrCat("warm-up ", step.index, "/", step.total, ": ", step.size.width, "x", step.size.height, " batch ",
                     step.batch_size, " (", absl::SixDigits(step.seconds), " s)"));
    return server::StopSignals::count() == 0;
  };
  if (auto s = (*server)->WarmUpAndServe(progress); !s.ok()) {
    if (server::StopSignals::count() == 0) {
      Log(absl::StrCat("warm-up failed: ", s.message()));
      return 1;
    }
    // Nothing was accepted yet (fusion calls get "warming up"): the drain
    // only closes the listener.
    Log(absl::StrCat(s.message(), " (signal during warm-up); exiting"));
    (*server)->Drain(std::chrono::seconds(0));
    return 0;
  }
  Log(absl::StrCat("ready: SERVING (warm-up ", absl::FormatDuration(absl::Now() - warm_start), ")"));
  // What the admission models learnt (server/cost_model.h, memory_model.h).
  const server::BucketKey mpx{1000, 1000};
  Log(absl::StrCat("admission: ~", absl::SixDigits((*server)->pipeline().costs().EstimateSeconds(mpx)), " s and ~",
                   absl::SixDigits((*server)->pipeline().memory().EstimateBytes(mpx) / (1 << 20)),
                   " MiB (CPU only; 0 = not measured) per megapixel image"));

  const int sig = server::StopSignals::WaitForFirst();
  const int drain = absl::GetFlag(FLAGS_drain_seconds);
  Log(absl::StrCat("signal ", sig, ": draining (up to ", drain, " s; exits as soon as in-flight calls finish)"));
  (*server)->Drain(std::chrono::seconds(drain));
  Log(absl::StrCat("drained; exiting (", int64_t((*server)->metrics().images_fused->Value()), " images fused)"));
  return 0;
}
