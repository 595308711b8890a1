#include "server/server_flags.h"

#include <algorithm>
#include <cmath>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/wxh.h"
#include "server/bearer_auth.h"

ABSL_FLAG(std::string, config, "tiny", "Model configuration: vit_h (the release), vit_l, vit_b or tiny.");
ABSL_FLAG(std::string, checkpoint, "",
          "Weights: a ctrlfuse-serve checkpoint, the official CtrlFuse file, or an official SAM file "
          "(SAM part only). Empty: the bundled demo model when --config=tiny and it exists, else seeded "
          "random weights.");
ABSL_FLAG(std::string, bundled_model, CTRLFUSE_BUNDLED_MODEL, "Path of the bundled demo model (tiny).");
ABSL_FLAG(uint64_t, seed, 0, "Seed for random weights when no checkpoint is loaded.");
ABSL_FLAG(std::string, device, "cpu", "cpu, cuda or cuda:N.");
ABSL_FLAG(std::string, precision, "fp32",
          "fp32; on CUDA also fp16 or bf16 (the network cast) or amp_fp16 or amp_bf16 (fp32 weights, autocast); "
          "on CPU also amp_bf16 (opt-in, for CPUs with AVX512-BF16 or AMX; quality change in docs/performance.md).");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads (0 = all cores).");
ABSL_FLAG(bool, flush_denormals, true,
          "CPU: compute with subnormal floats flushed to zero (x86 FTZ/DAZ), as TensorFlow's CPU runtime does. "
          "A trained checkpoint's near-zero weights make them; each costs a microcode assist (the bundled demo "
          "model ran 1.3x slower without). Outputs change only below FLT_MIN.");
ABSL_FLAG(std::string, host, "0.0.0.0",
          "Address gRPC listens on: every interface by default (remote clients, pods); 127.0.0.1 keeps it local.");
ABSL_FLAG(int, port, 50051, "gRPC port, 0..65535 (0 = pick a free one and print it). A port in use is an error.");
ABSL_FLAG(std::string, metrics_host, "",
          "Address the metrics endpoint (/metrics, /healthz, /readyz) listens on; empty = --host.");
ABSL_FLAG(int, metrics_port, 9464, "Prometheus /metrics port (0 = pick a free one and print it, -1 = off).");
ABSL_FLAG(std::string, auth_token_file, "",
          "Bearer tokens (one per line) that fusion calls must send as 'authorization: Bearer <token>'; "
          "health, reflection and KServe liveness/metadata stay open. Empty: no authentication. Use with TLS.");
ABSL_FLAG(int, max_batch_size, 4, "Largest batch the model runs.");
ABSL_FLAG(double, max_queue_delay_ms, 5.0,
          "Longest a request waits for its batch to fill, counted from the oldest queued request.");
ABSL_FLAG(int, max_queued, 64, "Requests waiting across all buckets before new ones get UNAVAILABLE.");
ABSL_FLAG(int, executors, 1,
          "Executor threads pulling batches. They share one engine (one copy of the weights), so more than "
          "one overlaps host work with compute; it does not add model instances.");
ABSL_FLAG(int64_t, cache_mb, 256, "Encode-cache capacity in MiB (0 = off).");
ABSL_FLAG(std::string, pad_buckets, "",
          "Pad-to-bucket policy: comma-separated WxH sizes requests are padded up to (smallest that "
          "fits) so mixed resolutions share batches. Empty: one bucket per exact size.");
ABSL_FLAG(std::string, warmup_sizes, "320x240",
          "Sizes warmed up at every batch size before SERVING (ignored when --pad_buckets is set: "
          "those are warmed instead).");
ABSL_FLAG(uint64_t, max_pixels, 16777216, "Largest image (width*height), checked from the header.");
ABSL_FLAG(int, max_concurrent_decodes, 4,
          "Requests decoding their images at once; others wait (until their deadline). Bounds decoding's "
          "memory: each decode holds up to two --max_pixels images and the codec's buffers.");
ABSL_FLAG(int64_t, max_message_bytes, 64ll << 20, "gRPC send/receive message limit in bytes.");
ABSL_FLAG(int, drain_seconds, 20, "On SIGTERM/SIGINT: how long in-flight calls may take to finish.");
ABSL_FLAG(std::string, tls_cert, "",
          "TLS: server certificate chain (PEM). With --tls_key, gRPC serves TLS only (the metrics port "
          "stays plain HTTP).");
ABSL_FLAG(std::string, tls_key, "", "TLS: the server certificate's private key (PEM).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "mTLS: CA bundle (PEM) that client certificates must chain to; clients without one are refused.");
ABSL_FLAG(int, max_streams, 64, "FuseStreams open at once; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, handshake_timeout_seconds, 10,
          "A connection that has not sent its HTTP/2 preface (or TLS handshake) by then is closed.");
ABSL_FLAG(int, max_connection_idle_seconds, 300, "A connection without calls for this long is closed (GOAWAY).");
ABSL_FLAG(int, stream_window, 4, "Requests of one stream processed at once (read-ahead depth).");
ABSL_FLAG(std::string, grounding_checkpoint, "",
          "Text prompts (Grounded-SAM): the official GroundingDINO checkpoint, groundingdino_swint_ogc.pth. "
          "Empty: text prompts answer UNIMPLEMENTED.");
ABSL_FLAG(std::string, grounding_config, "swint_ogc", "GroundingDINO configuration: swint_ogc (the release) or tiny.");
ABSL_FLAG(std::string, grounding_vocab, "",
          "BERT's bert-base-uncased vocab.txt (30,522 lines), the tokenizer of the grounding checkpoint.");
ABSL_FLAG(double, box_threshold, 0.35, "Text prompts: default GroundingDINO box threshold (official: 0.35).");
ABSL_FLAG(double, text_threshold, 0.25, "Text prompts: default GroundingDINO text threshold (official: 0.25).");
ABSL_FLAG(int, text_cache_entries, 64, "Text prompts: captions whose text encoding is kept (0 = no cache).");

namespace ctrlfuse::server {

absl::StatusOr<std::vector<cv::Size>> ParseSizes(const std::string& text, const std::string& flag) {
  auto sizes = common::ParseWxHList(text, flag);
  if (!sizes.ok()) return sizes.status();
  std::vector<cv::Size> out;
  for (const auto& s : *sizes) out.emplace_back(s.width, s.height);
  return out;
}

api::EngineOptions EngineOptionsFromFlags() {
  api::EngineOptions o;
  o.config = absl::GetFlag(FLAGS_config);
  o.checkpoint = absl::GetFlag(FLAGS_checkpoint);
  if (o.checkpoint.empty() && o.config == "tiny") {
    const std::string bundled = absl::GetFlag(FLAGS_bundled_model);
    if (FILE* f = std::fopen(bundled.c_str(), "rb")) {
      std::fclose(f);
      o.checkpoint = bundled;
    }
  }
  o.seed = absl::GetFlag(FLAGS_seed);
  o.device = absl::GetFlag(FLAGS_device);
  o.precision = absl::GetFlag(FLAGS_precision);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.flush_denormals = absl::GetFlag(FLAGS_flush_denormals);
  return o;
}

std::optional<api::GroundingOptions> GroundingOptionsFromFlags() {
  api::GroundingOptions o;
  o.checkpoint = absl::GetFlag(FLAGS_grounding_checkpoint);
  if (o.checkpoint.empty()) return std::nullopt;
  o.config = absl::GetFlag(FLAGS_grounding_config);
  o.vocab = absl::GetFlag(FLAGS_grounding_vocab);
  o.device = absl::GetFlag(FLAGS_device);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.text_cache_entries = size_t(std::max(0, absl::GetFlag(FLAGS_text_cache_entries)));
  o.flush_denormals = absl::GetFlag(FLAGS_flush_denormals);
  // Batched like fusion: concurrent text prompts share one GroundingDINO call.
  o.max_batch = size_t(std::max(1, absl::GetFlag(FLAGS_max_batch_size)));
  o.batch_window_ms = absl::GetFlag(FLAGS_max_queue_delay_ms);
  return o;
}

namespace {
// Values no option can hold (the rest are checked by ServerOptions::Validate).
absl::Status CheckFlagRanges() {
  auto bad = [](const char* flag, const auto& value, const char* want) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", value, " ", want));
  };
  const double delay = absl::GetFlag(FLAGS_max_queue_delay_ms);
  if (!std::isfinite(delay) || delay < 0 || delay > 60000)
    return bad("max_queue_delay_ms", delay, "is not a delay of 0 to 60000 ms");
  if (absl::GetFlag(FLAGS_threads) < 0) return bad("threads", absl::GetFlag(FLAGS_threads), "is negative");
  if (absl::GetFlag(FLAGS_drain_seconds) < 0)
    return bad("drain_seconds", absl::GetFlag(FLAGS_drain_seconds), "is negative");
  const int64_t cache_mb = absl::GetFlag(FLAGS_cache_mb);
  if (cache_mb < 0 || cache_mb > (int64_t(1) << 40)) return bad("cache_mb", cache_mb, "is not 0 to 2^40 MiB");
  if (absl::GetFlag(FLAGS_max_pixels) < 1) return bad("max_pixels", 0, "must be at least 1");
  for (const auto& [flag, value] : {std::pair<const char*, double>{"box_threshold", absl::GetFlag(FLAGS_box_threshold)},
                                    {"text_threshold", absl::GetFlag(FLAGS_text_threshold)}})
    if (!std::isfinite(value) || value <= 0 || value >= 1) return bad(flag, value, "is not in (0, 1)");
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<ServerOptions> ServerOptionsFromFlags() {
  if (auto s = CheckFlagRanges(); !s.ok()) return s;
  ServerOptions o;
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.metrics_host = absl::GetFlag(FLAGS_metrics_host);
  o.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (const std::string file = absl::GetFlag(FLAGS_auth_token_file); !file.empty()) {
    auto tokens = BearerAuth::ReadTokens(file, "--auth_token_file");
    if (!tokens.ok()) return tokens.status();
    o.auth_tokens = *tokens;
  }
  o.stream_window = size_t(std::max(0, absl::GetFlag(FLAGS_stream_window)));
  o.max_streams = size_t(std::max(0, absl::GetFlag(FLAGS_max_streams)));
  o.handshake_timeout_seconds = absl::GetFlag(FLAGS_handshake_timeout_seconds);
  o.max_connection_idle_seconds = absl::GetFlag(FLAGS_max_connection_idle_seconds);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  o.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  o.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  auto& p = o.pipeline;
  p.batching.max_batch_size = size_t(std::max(0, absl::GetFlag(FLAGS_max_batch_size)));
  p.batching.max_queue_delay = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::milli>(absl::GetFlag(FLAGS_max_queue_delay_ms)));
  p.batching.max_queued = size_t(std::max(0, absl::GetFlag(FLAGS_max_queued)));
  p.executors = absl::GetFlag(FLAGS_executors);
  p.cache_bytes = absl::GetFlag(FLAGS_cache_mb) << 20;
  auto buckets = ParseSizes(absl::GetFlag(FLAGS_pad_buckets), "pad_buckets");
  if (!buckets.ok()) return buckets.status();
  p.pad_buckets = *buckets;
  p.limits.max_pixels = absl::GetFlag(FLAGS_max_pixels);
  p.limits.text_defaults.box_threshold = float(absl::GetFlag(FLAGS_box_threshold));
  p.limits.text_defaults.text_threshold = float(absl::GetFlag(FLAGS_text_threshold));
  p.max_concurrent_decodes = size_t(std::max(0, absl::GetFlag(FLAGS_max_concurrent_decodes)));
  auto warm = ParseSizes(absl::GetFlag(FLAGS_warmup_sizes), "warmup_sizes");
  if (!warm.ok()) return warm.status();
  o.warmup_sizes = *warm;
  // Checked here too (Create builds them) so that bad TLS flags stop the
  // server before it spends minutes loading a model.
  if (auto c = ServerCredentials(o.tls); !c.ok()) return c.status();
  // The options name themselves as the flags do ("max_batch_size: ...").
  if (auto s = o.Validate(); !s.ok()) return absl::InvalidArgumentError(absl::StrCat("--", s.message()));
  return o;
}

}  // namespace ctrlfuse::server
