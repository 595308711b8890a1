// ctrlfuse-client: fuse one pair, a folder of pairs, a stream of frames, or
// generate load against ctrlfuse-server.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/folder_input.h"
#include "client/fusion_client.h"
#include "client/load_generator.h"
#include "client/progress.h"
#include "client/request_builder.h"
#include "common/flag_help.h"
#include "image/codec.h"
#include "proto/kinds.h"

ABSL_FLAG(std::string, server, "localhost:50051", "Server address host:port.");
ABSL_FLAG(std::string, ca, "", "TLS: CA certificate (PEM); enables TLS.");
ABSL_FLAG(std::string, cert, "", "TLS: client certificate (PEM).");
ABSL_FLAG(std::string, key, "", "TLS: client private key (PEM).");
ABSL_FLAG(std::string, auth_token_file, "",
          "File whose first line is the bearer token to send (a server with --auth_token_file needs it).");
ABSL_FLAG(double, deadline, 120, "Per-call deadline in seconds (per stream for `stream`).");
ABSL_FLAG(int, retries, 3, "Retries with exponential backoff for UNAVAILABLE (queue full, a pod draining).");
ABSL_FLAG(double, wait_for_server, 600,
          "Seconds to keep retrying while the server answers that it is still warming up (minutes for "
          "the large models); 0: only --retries.");
ABSL_FLAG(std::string, ir, "", "fuse/load: infrared image file.");
ABSL_FLAG(std::string, vis, "", "fuse/load: visible image file.");
ABSL_FLAG(std::string, mask, "", "fuse/load: mask prompt file (grey image, same size).");
ABSL_FLAG(std::string, boxes, "", "Box prompt: 'x0,y0,x1,y1;...' (SAM turns it into a mask).");
ABSL_FLAG(std::string, points, "", "Point prompt: 'x,y,1;x,y,0' (1 foreground, 0 background).");
ABSL_FLAG(std::string, text, "",
          "Text prompt, e.g. 'person . car .' (Grounded-SAM; needs a server started with --grounding_checkpoint).");
ABSL_FLAG(double, box_threshold, 0, "Text prompt: GroundingDINO box threshold (0 = the server's default).");
ABSL_FLAG(double, text_threshold, 0, "Text prompt: GroundingDINO text threshold (0 = the server's default).");
ABSL_FLAG(std::string, grounding_source, "visible", "Text prompt: which image to ground on: visible, infrared, both.");
ABSL_FLAG(std::string, ir_dir, "", "batch/stream/load: folder of infrared images.");
ABSL_FLAG(std::string, vis_dir, "",
          "batch/stream/load: folder of visible images, paired with the infrared ones by file stem "
          "(case-insensitive, any extension).");
ABSL_FLAG(std::string, mask_dir, "", "batch/stream/load: optional folder of mask prompts (by file stem).");
ABSL_FLAG(std::string, ir_normalization, "",
          "16-bit infrared normalisation: percentile (the server's default, 0.5/99.5), percentile:LO,HI, "
          "minmax or linear.");
ABSL_FLAG(std::string, out_dir, "out", "Where fused images and masks are written.");
ABSL_FLAG(std::string, name, "", "fuse: output base name (default: the infrared file's stem).");
ABSL_FLAG(bool, colour, false, "Colour output (visible chroma around the fused luma).");
ABSL_FLAG(std::string, encoding, "png", "Output encoding: png, jpeg or raw.");
ABSL_FLAG(int, jpeg_quality, 90, "JPEG quality 1..100.");
ABSL_FLAG(bool, masks, true, "Also write the predicted masks and the prompt mask.");
ABSL_FLAG(std::string, metrics, "", "Quality metrics to compute server-side, e.g. 'Qabf,SSIM' or 'all'.");
ABSL_FLAG(int, concurrency, 4, "batch/load: requests in flight at once.");
ABSL_FLAG(bool, overwrite, false, "batch: redo pairs whose output exists.");
ABSL_FLAG(double, rate, 0, "load: requests per second (0 = closed loop at --concurrency).");
ABSL_FLAG(double, duration, 0, "load: seconds to run (0 = use --count).");
ABSL_FLAG(int64_t, count, 100, "load: number of requests.");
ABSL_FLAG(bool, json, false, "load/info: print JSON.");
ABSL_FLAG(std::string, load_balancing, "round_robin",
          "gRPC load balancing over the addresses --server resolves to: round_robin (every pod of a "
          "dns:/// headless Service) or pick_first.");
ABSL_FLAG(std::string, health_service, "", "health: the service to check (empty: the whole server).");

namespace {
using namespace ctrlfuse;
namespace fs = std::filesystem;

// A call or a file that failed: exit 1.
int Fail(const absl::Status& s) {
  std::cerr << "error: " << s << std::endl;
  return 1;
}

// The command line asked for something impossible (a flag missing or
// wrong): exit 2, as for an unknown command.
int Usage(const absl::Status& s) {
  std::cerr << "error: " << s.message() << std::endl;
  return 2;
}

client::PromptSpec PromptFromFlags(const std::string& mask_override = "") {
  client::PromptSpec p;
  p.mask_file = mask_override.empty() ? absl::GetFlag(FLAGS_mask) : mask_override;
  p.boxes = absl::GetFlag(FLAGS_boxes);
  p.points = absl::GetFlag(FLAGS_points);
  p.text = absl::GetFlag(FLAGS_text);
  p.box_threshold = float(absl::GetFlag(FLAGS_box_threshold));
  p.text_threshold = float(absl::GetFlag(FLAGS_text_threshold));
  p.source = absl::GetFlag(FLAGS_grounding_source);
  return p;
}

client::OutputSpec OutputFromFlags() {
  client::OutputSpec o;
  o.colour = absl::GetFlag(FLAGS_colour);
  o.encoding = absl::GetFlag(FLAGS_encoding);
  o.jpeg_quality = absl::GetFlag(FLAGS_jpeg_quality);
  o.return_masks = absl::GetFlag(FLAGS_masks);
  o.ir_normalization = absl::GetFlag(FLAGS_ir_normalization);
  for (auto m : absl::StrSplit(absl::GetFlag(FLAGS_metrics), ',', absl::SkipEmpty())) o.metrics.emplace_back(m);
  return o;
}

// Writes the fused image and masks of `resp` under out_dir/name* (every
// command has made out_dir with PrepareOutDir before its first call).
absl::Status WriteOutputs(const v1::FuseResponse& resp, const std::string& out_dir, const std::string& name) {
  if (auto s = client::SaveImage(resp.fused(), out_dir + "/" + name + "." + client::Extension(resp.fused())); !s.ok())
    return s;
  for (const auto& m : resp.masks())
    if (auto s =
            client::SaveImage(m.image(), absl::StrCat(out_dir, "/", name, "_", v1::MaskKindName(m.kind()), ".png"));
        !s.ok())
      return s;
  return absl::OkStatus();
}

std::string MetricsLine(const v1::FuseResponse& resp) {
  std::string s;
  std::vector<std::pair<std::string, double>> m(resp.metrics().begin(), resp.metrics().end());
  std::sort(m.begin(), m.end());
  for (const auto& [k, v] : m) absl::StrAppend(&s, " ", k, "=", v);
  return s;
}

// The folder commands' pairs (client/folder_input.h); problems go to stderr,
// and any makes the command exit 1 (batch, stream and load alike).
absl::StatusOr<client::FolderInput> FolderPairsFromFlags() {
  auto in =
      client::ReadFolders(absl::GetFlag(FLAGS_ir_dir), absl::GetFlag(FLAGS_vis_dir), absl::GetFlag(FLAGS_mask_dir));
  if (in.ok())
    for (const auto& p : in->problems) std::cerr << "problem: " << p << std::endl;
  return in;
}

int RunFuse(client::FusionClient& c) {
  const std::string ir = absl::GetFlag(FLAGS_ir), vis = absl::GetFlag(FLAGS_vis);
  if (ir.empty() || vis.empty()) return Usage(absl::InvalidArgumentError("fuse needs --ir and --vis"));
  std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) name = fs::path(ir).stem().string();
  // Before the call: a bad --out_dir must not cost a fusion.
  if (auto s = client::PrepareOutDir(absl::GetFlag(FLAGS_out_dir)); !s.ok()) return Usage(s);
  auto req = client::BuildRequest(name, ir, vis, PromptFromFlags(), OutputFromFlags());
  if (!req.ok()) return Fail(req.status());
  auto resp = c.Fuse(*req);
  if (!resp.ok()) return Fail(resp.status());
  if (auto s = WriteOutputs(*resp, absl::GetFlag(FLAGS_out_dir), name); !s.ok()) return Fail(s);
  const auto& t = resp->timings();
  std::cout << name << ": OK total " << t.total_seconds() * 1e3 << " ms (queue " << t.queue_seconds() * 1e3
            << ", compute " << t.compute_seconds() * 1e3 << ", batch " << t.batch_size()
            << (t.cache_hit() ? ", cache hit" : "") << ")" << MetricsLine(*resp) << std::endl;
  for (const auto& d : resp->detections())
    std::cout << "  detection \"" << d.phrase() << "\" score " << d.score() << " box " << d.box().x0() << ","
              << d.box().y0() << "," << d.box().x1() << "," << d.box().y1() << std::endl;
  if (resp->timings().grounding_seconds() > 0)
    std::cout << "  grounding " << resp->timings().grounding_seconds() * 1e3 << " ms"
              << (resp->timings().text_cache_hit() ? " (caption cached)" : "") << std::endl;
  return 0;
}

int RunBatch(client::FusionClient& c) {
  auto in = FolderPairsFromFlags();
  if (!in.ok()) return Usage(in.status());
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (auto s = client::PrepareOutDir(out_dir); !s.ok()) return Usage(s);
  const bool overwrite = absl::GetFlag(FLAGS_overwrite);
  std::vector<client::FolderPair> todo;
  size_t skipped = 0;
  for (const auto& p : in->pairs) {
    if (!overwrite && (fs::exists(out_dir + "/" + p.name + ".png") || fs::exists(out_dir + "/" + p.name + ".jpg"))) {
      ++skipped;
    } else {
      todo.push_back(p);
    }
  }
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<size_t> next{0}, done{0};
  client::Progress progress("batch", todo.size());
  std::vector<std::thread> workers;
  for (int w = 0; w < std::max(1, absl::GetFlag(FLAGS_concurrency)); ++w) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
        const client::FolderPair& p = todo[i];
        absl::Status s;
        auto req = client::BuildRequest(p.name, p.ir, p.vis, PromptFromFlags(p.mask), OutputFromFlags());
        if (!req.ok()) {
          s = req.status();
        } else {
          auto resp = c.Fuse(*req);
          s = resp.ok() ? WriteOutputs(*resp, out_dir, p.name) : resp.status();
        }
        std::lock_guard<std::mutex> lock(mu);
        if (!s.ok()) failures.push_back(absl::StrCat(p.name, ": ", s.ToString()));
        progress.Update(++done, failures.size());
      }
    });
  }
  for (auto& t : workers) t.join();
  progress.Finish();
  std::cout << "batch: " << todo.size() - failures.size() << " fused, " << skipped << " skipped (output exists), "
            << failures.size() << " failed, " << in->problems.size() << " problems" << std::endl;
  for (const auto& f : failures) std::cout << "  failed " << f << std::endl;
  return failures.empty() && in->problems.empty() ? 0 : 1;
}

int RunStream(client::FusionClient& c) {
  auto in = FolderPairsFromFlags();
  if (!in.ok()) return Usage(in.status());
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (auto s = client::PrepareOutDir(out_dir); !s.ok()) return Usage(s);
  std::vector<v1::FuseRequest> requests;
  for (const auto& p : in->pairs) {
    auto req = client::BuildRequest(p.name, p.ir, p.vis, PromptFromFlags(p.mask), OutputFromFlags());
    if (!req.ok()) return Fail(req.status());
    requests.push_back(std::move(*req));
  }
  int failed = 0;
  auto s = c.FuseStream(requests, [&](const v1::StreamFuseResponse& r) {
    const auto code = static_cast<absl::StatusCode>(r.code());
    std::cout << r.response().id() << ": " << absl::StatusCodeToString(code);
    if (code == absl::StatusCode::kOk) {
      if (auto w = WriteOutputs(r.response(), out_dir, r.response().id()); !w.ok())
        std::cout << " (write failed: " << w << ")";
      std::cout << " batch " << r.response().timings().batch_size() << MetricsLine(r.response());
    } else {
      ++failed;
      std::cout << " " << r.message();
    }
    std::cout << std::endl;
  });
  if (!s.ok()) return Fail(s);
  std::cout << "stream: " << requests.size() << " frames, " << failed << " failed, " << in->problems.size()
            << " problems" << std::endl;
  return failed || !in->problems.empty() ? 1 : 0;
}

int RunLoad(client::FusionClient& c) {
  // One pair (--ir/--vis), or every pair of --ir_dir/--vis_dir in turn.
  std::vector<v1::FuseRequest> requests;
  size_t problems = 0;
  if (!absl::GetFlag(FLAGS_ir_dir).empty() || !absl::GetFlag(FLAGS_vis_dir).empty()) {
    auto in = FolderPairsFromFlags();
    if (!in.ok()) return Usage(in.status());
    problems = in->problems.size();
    for (const auto& p : in->pairs) {
      auto req = client::BuildRequest(p.name, p.ir, p.vis, PromptFromFlags(p.mask), OutputFromFlags());
      if (!req.ok()) return Fail(req.status());
      requests.push_back(std::move(*req));
    }
    if (requests.empty()) return Usage(absl::InvalidArgumentError("load: no pairs in --ir_dir/--vis_dir"));
  } else {
    if (absl::GetFlag(FLAGS_ir).empty() || absl::GetFlag(FLAGS_vis).empty())
      return Usage(absl::InvalidArgumentError("load needs --ir and --vis, or --ir_dir and --vis_dir"));
    auto req = client::BuildRequest("load", absl::GetFlag(FLAGS_ir), absl::GetFlag(FLAGS_vis), PromptFromFlags(),
                                    OutputFromFlags());
    if (!req.ok()) return Fail(req.status());
    requests.push_back(std::move(*req));
  }
  client::LoadOptions o;
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.rate = absl::GetFlag(FLAGS_rate);
  o.duration_seconds = absl::GetFlag(FLAGS_duration);
  o.count = absl::GetFlag(FLAGS_count);
  auto report = client::RunLoad(c, requests, o);
  std::cout << (absl::GetFlag(FLAGS_json) ? report.Json() + "\n" : report.Table());
  return report.codes.size() == 1 && report.codes.count("OK") && problems == 0 ? 0 : 1;
}

// Exit 0 only when SERVING: a container HEALTHCHECK or an exec probe.
int RunHealth(client::FusionClient& c) {
  auto status = c.Health(absl::GetFlag(FLAGS_health_service));
  if (!status.ok()) return Fail(status.status());
  std::cout << *status << "\n";
  return *status == "SERVING" ? 0 : 1;
}

int RunInfo(client::FusionClient& c) {
  auto info = c.GetModelInfo();
  if (!info.ok()) return Fail(info.status());
  if (!absl::GetFlag(FLAGS_json)) {
    std::cout << info->DebugString();
    return 0;
  }
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(*info, &json, o); !s.ok())
    return Fail(absl::InternalError(std::string(s.message())));
  std::cout << json;
  return 0;
}

int Dispatch(const std::string& command, client::FusionClient& c) {
  if (command == "fuse") return RunFuse(c);
  if (command == "batch") return RunBatch(c);
  if (command == "stream") return RunStream(c);
  if (command == "load") return RunLoad(c);
  if (command == "info") return RunInfo(c);
  if (command == "health") return RunHealth(c);
  std::cerr << "unknown command '" << command << "'\n" << absl::ProgramUsageMessage() << std::endl;
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ctrlfuse-client COMMAND [flags]\n"
      "  fuse    --ir A --vis B [--mask M | --boxes .. | --points .. | --text ..] [--out_dir out]\n"
      "  batch   --ir_dir D --vis_dir D [--mask_dir D] [--out_dir out] [--concurrency 4] [--overwrite]\n"
      "  stream  --ir_dir D --vis_dir D [--mask_dir D] [--out_dir out]   (frames in file-name order)\n"
      "  load    --ir A --vis B [--mask M] | --ir_dir D --vis_dir D [--mask_dir D]\n"
      "          [--concurrency 4 | --rate R] [--duration S | --count N] [--json]\n"
      "  info    the server's model and limits\n"
      "  health  grpc.health.v1 check: prints the status, exit 0 only when SERVING\n"
      "--server takes any gRPC target: host:port, dns:///name:port (all addresses, round-robin),\n"
      "ipv4:a:p,b:q, unix:path.");
  common::HelpListsFlagsFrom("client/");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::cerr << absl::ProgramUsageMessage() << std::endl;
    return 2;
  }
  const std::string command = args[1];
  client::ClientOptions o;
  o.address = absl::GetFlag(FLAGS_server);
  o.ca_file = absl::GetFlag(FLAGS_ca);
  o.cert_file = absl::GetFlag(FLAGS_cert);
  o.key_file = absl::GetFlag(FLAGS_key);
  o.deadline_seconds = absl::GetFlag(FLAGS_deadline);
  o.retries = absl::GetFlag(FLAGS_retries);
  o.load_balancing = absl::GetFlag(FLAGS_load_balancing);
  o.wait_for_server_seconds = absl::GetFlag(FLAGS_wait_for_server);
  if (const std::string file = absl::GetFlag(FLAGS_auth_token_file); !file.empty()) {
    auto token = image::ReadFile(file);
    if (!token.ok())
      return Usage(absl::InvalidArgumentError(absl::StrCat("--auth_token_file: ", token.status().message())));
    o.bearer_token = std::string(absl::StripAsciiWhitespace(token->substr(0, token->find('\n'))));
  }
  auto c = client::FusionClient::Create(o);
  if (!c.ok()) return Usage(c.status());
  // Nothing escapes as an abort: a library exception (the file system, say)
  // is an error message and exit 1.
  try {
    return Dispatch(command, **c);
  } catch (const std::exception& e) {
    return Fail(absl::InternalError(e.what()));
  }
}
