// ctrlfuse-server as a process: health goes NOT_SERVING -> SERVING after
// warm-up, /metrics answers, and SIGTERM under load from 16 clients drains:
// every call is answered OK or refused UNAVAILABLE, nothing accepted is
// lost, and the process exits 0.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "client/fusion_client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/server/test_net.h"

extern char** environ;

namespace ctrlfuse {
namespace {

struct ServerProcess {
  pid_t pid = -1;
  int port = 0, metrics_port = 0;
  std::string log_path;
  FILE* out = nullptr;  // the server's stdout (a pipe), kept open while it runs

  // Spawns the server on free ports (it binds port 0 and prints what it
  // got) and reads them from its stdout: no port is picked here and raced
  // for, and the read blocks until the server is listening.
  bool Start(const std::vector<std::string>& extra) {
    log_path = ::testing::TempDir() + "/server_" + std::to_string(getpid()) + ".log";
    std::vector<std::string> args = {CTRLFUSE_SERVER_BINARY, "--port=0", "--host=127.0.0.1", "--metrics_port=0"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) return false;
    out = fdopen(fds[0], "r");
    char word[32];
    int value = 0;
    // "metrics_port M" then "port N"; EOF if the server exits first.
    while (port == 0 && std::fscanf(out, "%31s %d", word, &value) == 2) {
      if (std::string(word) == "metrics_port") metrics_port = value;
      if (std::string(word) == "port") port = value;
    }
    return port != 0 && metrics_port != 0;
  }
  int Wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    if (out) std::fclose(out);
    out = nullptr;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string Log() const {
    std::ifstream f(log_path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
};

grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::shared_ptr<grpc::Channel>& ch) {
  auto stub = grpc::health::v1::Health::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  auto s = stub->Check(&ctx, req, &resp);
  return s.ok() ? resp.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
}

// Blocks on grpc.health.v1 Watch until the server reports SERVING (true)
// or the stream ends (false).
bool WaitUntilServing(const std::shared_ptr<grpc::Channel>& ch) {
  auto stub = grpc::health::v1::Health::NewStub(ch);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  auto stream = stub->Watch(&ctx, req);
  grpc::health::v1::HealthCheckResponse resp;
  while (stream->Read(&resp))
    if (resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      ctx.TryCancel();
      stream->Finish();
      return true;
    }
  stream->Finish();
  return false;
}

// Server reflection lists the services (what grpcurl-style tools use).
std::vector<std::string> ListServices(const std::shared_ptr<grpc::Channel>& ch) {
  using namespace grpc::reflection::v1alpha;
  auto stub = ServerReflection::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->ServerReflectionInfo(&ctx);
  ServerReflectionRequest req;
  req.set_list_services("");
  stream->Write(req);
  stream->WritesDone();
  ServerReflectionResponse resp;
  std::vector<std::string> names;
  if (stream->Read(&resp))
    for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  stream->Finish();
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ProcessTest, HealthMetricsAndDrainOnSigterm) {
  ServerProcess p;
  // NOT_SERVING during warm-up is asserted in-process, where a test double
  // holds the warm-up (ServerTest.NotServingUntilWarmUpEnds): here it may
  // be over before the first health check.
  ASSERT_TRUE(
      // A drain longer than this test's ctest timeout: the exit must not
      // wait for it (the open stream and health watch below hold no call).
      p.Start({"--warmup_sizes=320x240,64x48", "--max_batch_size=4", "--max_queue_delay_ms=20", "--drain_seconds=900"}))
      << p.Log();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(p.port), grpc::InsecureChannelCredentials());
  using HS = grpc::health::v1::HealthCheckResponse;
  ASSERT_TRUE(WaitUntilServing(channel)) << p.Log();
  ASSERT_EQ(Health(channel), HS::SERVING) << p.Log();
  EXPECT_EQ(ListServices(channel),
            (std::vector<std::string>{"ctrlfuse.v1.FusionService", "grpc.health.v1.Health",
                                      "grpc.reflection.v1alpha.ServerReflection", "inference.GRPCInferenceService"}));
  auto metrics = testing::ParseMetrics(testing::HttpGet(p.metrics_port, "/metrics"));
  EXPECT_EQ(metrics.at("ctrlfuse_images_fused_total"), 0);

  // An idle stream (one frame answered, then nothing) and a health watch,
  // both left open through the drain.
  auto fusion = v1::FusionService::NewStub(channel);
  grpc::ClientContext stream_ctx;
  auto idle_stream = fusion->FuseStream(&stream_ctx);
  ASSERT_TRUE(idle_stream->Write(testing::SceneRequest(7, 64, 48)));
  v1::StreamFuseResponse first_frame;
  ASSERT_TRUE(idle_stream->Read(&first_frame));
  EXPECT_EQ(first_frame.code(), 0);
  grpc::ClientContext watch_ctx;
  auto watch = grpc::health::v1::Health::NewStub(channel)->Watch(&watch_ctx, grpc::health::v1::HealthCheckRequest());
  HS watched;
  ASSERT_TRUE(watch->Read(&watched));
  EXPECT_EQ(watched.status(), HS::SERVING);

  client::ClientOptions o;
  o.address = "127.0.0.1:" + std::to_string(p.port);
  o.retries = 0;
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::atomic<bool> sent_signal{false};
  std::mutex mu;
  std::condition_variable progress;
  int finished = 0;  // client threads done (guarded by mu)
  std::vector<std::string> others;
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      auto c = std::move(*client::FusionClient::Create(o));
      for (int k = 0; k < 200; ++k) {
        auto r = c->Fuse(testing::SceneRequest(uint64_t(1000 + i), 64, 48));
        if (r.ok()) {
          ++ok;
          progress.notify_all();
          continue;
        }
        // Refused: UNAVAILABLE (the draining server, or no server), or
        // CANCELLED from gRPC itself for a call it had received but not
        // started when its Shutdown began (never fused: the count below
        // shows nothing accepted was lost).
        if (r.status().code() == absl::StatusCode::kUnavailable ||
            (sent_signal && r.status().code() == absl::StatusCode::kCancelled)) {
          ++refused;
        } else {
          ++other;
          std::lock_guard<std::mutex> l(mu);
          others.push_back(r.status().ToString());
        }
        if (sent_signal) break;
      }
      std::lock_guard<std::mutex> l(mu);
      ++finished;
      progress.notify_all();
    });
  }
  {
    // SIGTERM under load: once 40 calls succeeded (or, failing that, once
    // every client gave up, which the assertions below then report).
    std::unique_lock<std::mutex> l(mu);
    progress.wait(l, [&] { return ok >= 40 || finished == 16; });
  }
  EXPECT_GE(ok, 40);
  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  sent_signal = true;
  // The watch sees the drain begin; a second SIGTERM then is said and
  // ignored (the drain goes on; it used to kill the process mid-drain).
  ASSERT_TRUE(watch->Read(&watched));
  EXPECT_EQ(watched.status(), HS::NOT_SERVING);
  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  for (auto& t : clients) t.join();
  // It exits although the stream and the watch are still open on our side.
  EXPECT_EQ(p.Wait(), 0) << p.Log();
  EXPECT_FALSE(watch->Read(&watched));  // ended by the server
  watch->Finish();
  EXPECT_FALSE(idle_stream->Read(&first_frame));
  idle_stream->Finish();
  EXPECT_EQ(other, 0) << (others.empty() ? "" : others.front());
  EXPECT_GT(refused, 0);
  // Every request the server fused was answered to its client.
  std::smatch m;
  const std::string log = p.Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("drained; exiting \\((\\d+) images fused\\)"))) << log;
  EXPECT_EQ(std::stoi(m[1]), ok.load() + 1);  // + the stream's frame
  EXPECT_NE(log.find("again (2 so far): still draining"), std::string::npos) << log;
}

TEST(ProcessTest, SigtermDuringWarmUpStopsItAndExitsCleanly) {
  ServerProcess p;
  // Forty warm-up steps (seconds): the signal arrives during them.
  ASSERT_TRUE(
      p.Start({"--warmup_sizes=320x240,320x256,320x272,320x288,320x304,320x320,320x336,320x352,320x368,"
               "320x384",
               "--max_batch_size=4"}))
      << p.Log();
  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  EXPECT_EQ(p.Wait(), 0) << p.Log();
  const std::string log = p.Log();
  EXPECT_NE(log.find("warm-up stopped after step "), std::string::npos) << log;
  EXPECT_EQ(log.find("warm-up 40/40"), std::string::npos) << log;  // it did not run to the end
  EXPECT_EQ(log.find("ready: SERVING"), std::string::npos) << log;
}

}  // namespace
}  // namespace ctrlfuse
