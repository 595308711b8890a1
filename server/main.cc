// ctrlfuse-server: serves CtrlFuse over gRPC with dynamic batching, an
// encode cache, health, reflection and Prometheus metrics.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "quality/metrics.h"
#include "server/fusion_service.h"
#include "server/server_flags.h"

namespace {
void Log(const std::string& msg) {
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
  absl::ParseCommandLine(argc, argv);

  // Signals are taken synchronously by the main thread (sigwait): block them
  // before any thread starts so none inherits the default handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto engine_options = server::EngineOptionsFromFlags();
  auto pipeline_options = server::PipelineOptionsFromFlags();
  if (!pipeline_options.ok()) {
    Log(std::string(pipeline_options.status().message()));
    return 2;
  }
  auto warm_sizes = server::ParseSizes(absl::GetFlag(FLAGS_warmup_sizes), "warmup_sizes");
  if (!warm_sizes.ok()) {
    Log(std::string(warm_sizes.status().message()));
    return 2;
  }
  Log(absl::StrCat("loading model config=", engine_options.config, " device=", engine_options.device,
                   " precision=", engine_options.precision,
                   engine_options.checkpoint.empty() ? " (no checkpoint: seeded random weights, untrained)"
                                                     : " checkpoint=" + engine_options.checkpoint));
  auto engine = api::FusionEngine::Create(engine_options);
  if (!engine.ok()) {
    Log(std::string(engine.status().message()));
    return 1;
  }
  const auto& info = (*engine)->info();

  server::Metrics metrics;
  metrics.SetModelInfo(info.config, info.device, info.precision);
  if (int mp = absl::GetFlag(FLAGS_metrics_port); mp > 0) {
    if (auto err = metrics.Serve(absl::StrCat(absl::GetFlag(FLAGS_host), ":", mp)); !err.empty()) {
      Log(err);
      return 1;
    }
    Log(absl::StrCat("metrics on http://", absl::GetFlag(FLAGS_host), ":", mp, "/metrics"));
  }

  pipeline_options->known_metrics = quality::MetricNames();
  pipeline_options->quality = [](const cv::Mat& ir, const cv::Mat& vis, const cv::Mat& fused,
                                 const std::vector<std::string>& names) {
    return quality::Compute(ir, vis, fused, names);
  };
  server::RealClock clock;
  server::FusionPipeline pipeline(engine->get(), *pipeline_options, &metrics, &clock);

  v1::ModelInfo model_info;
  model_info.set_config(info.config);
  model_info.set_device(info.device);
  model_info.set_precision(info.precision);
  model_info.set_checkpoint(info.checkpoint);
  model_info.set_checkpoint_kind(info.checkpoint_kind);
  model_info.set_num_parameters(info.num_parameters);
  model_info.set_sam_input(uint32_t(info.sam_input));
  model_info.set_num_queries(uint32_t(info.num_queries));
  model_info.set_max_pixels(absl::GetFlag(FLAGS_max_pixels));
  model_info.set_max_message_bytes(uint64_t(absl::GetFlag(FLAGS_max_message_bytes)));
  model_info.set_max_batch_size(uint32_t(pipeline_options->batching.max_batch_size));
  for (const char* k : {"mask", "rle_mask", "boxes", "points", "none"}) model_info.add_prompt_kinds(k);
  for (const char* k : {"png", "jpeg", "tiff", "bmp", "raw"}) model_info.add_input_encodings(k);
  for (const char* k : {"png", "jpeg", "raw"}) model_info.add_output_encodings(k);
  for (const auto& m : quality::MetricNames()) model_info.add_metrics(m);

  server::FusionServiceImpl service(&pipeline, &metrics, model_info, size_t(absl::GetFlag(FLAGS_stream_window)));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port)),
                           grpc::InsecureServerCredentials(), &bound_port);
  const int max_bytes = int(std::min<int64_t>(absl::GetFlag(FLAGS_max_message_bytes), INT32_MAX));
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    Log("cannot listen on port " + std::to_string(absl::GetFlag(FLAGS_port)));
    return 1;
  }
  auto* health = server->GetHealthCheckService();
  health->SetServingStatus(false);
  Log(absl::StrCat("listening on port ", bound_port, " (NOT_SERVING while warming up)"));
  std::cout << "port " << bound_port << std::endl;  // machine-readable, for tests and scripts

  pipeline.Start();
  const auto warm_start = absl::Now();
  if (auto s = pipeline.Warmup(*warm_sizes); !s.ok()) {
    Log(absl::StrCat("warm-up failed: ", s.message()));
    return 1;
  }
  service.SetServing(true);
  health->SetServingStatus(true);
  Log(absl::StrCat("ready: SERVING (warm-up ", absl::FormatDuration(absl::Now() - warm_start), ")"));

  int sig = 0;
  sigwait(&signals, &sig);
  const int drain = absl::GetFlag(FLAGS_drain_seconds);
  Log(absl::StrCat("signal ", sig, ": draining (up to ", drain, " s)"));
  health->SetServingStatus(false);
  // Stops accepting calls and waits for in-flight ones (their batches keep
  // running on the executors) until the deadline, then cancels the rest.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(drain));
  pipeline.Stop();
  Log(absl::StrCat("drained; exiting (", int64_t(metrics.images_fused->Value()), " images fused)"));
  return 0;
}
