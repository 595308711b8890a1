// The server's doors: bearer-token authentication (fusion calls need a
// configured token; health stays open), exactly one gRPC listener per
// server (gRPC cloned it per completion queue under SO_REUSEPORT, and with
// port 0 each clone got its own unprinted port), and a port in use is an
// error instead of a second server silently sharing its traffic.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <grpcpp/generic/generic_stub.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/server/test_server.h"
#include "tests/support/fake_fusion_engine.h"

namespace ctrlfuse {
namespace {

using testing::FakeFusionEngine;
using testing::InProcessServer;
using testing::SceneRequest;

// Listening TCP sockets this process owns: inodes of its socket fds that
// /proc/net/tcp{,6} lists in state 0A (LISTEN).
size_t OwnListeningSockets() {
  std::set<std::string> own;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      char target[256];
      const std::string path = std::string("/proc/self/fd/") + e->d_name;
      const ssize_t n = readlink(path.c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      const std::string t(target, size_t(n));
      if (t.rfind("socket:[", 0) == 0) own.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
  }
  size_t listening = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retr, uid, timeout, inode;
      f >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state == "0A" && own.count(inode)) ++listening;
    }
  }
  return listening;
}

TEST(ListenTest, OneListenerPerServerAndAPortInUseIsAnError) {
  FakeFusionEngine fake;  // test double: no model needed to listen
  const size_t before = OwnListeningSockets();
  InProcessServer first(&fake, server::PipelineOptions(), /*serve_metrics=*/true);
  ASSERT_EQ(first.error, "");
  EXPECT_EQ(OwnListeningSockets() - before, 2u);  // gRPC's port and the metrics port, nothing else

  auto same_grpc = InProcessServer::Local(server::PipelineOptions(), false);
  same_grpc.port = first.port;
  InProcessServer second(&fake, same_grpc);
  EXPECT_NE(second.error.find(absl::StrCat("cannot listen on 127.0.0.1:", first.port, " (port in use")),
            std::string::npos)
      << second.error;
  auto same_metrics = InProcessServer::Local(server::PipelineOptions(), true);
  same_metrics.metrics_port = first.metrics_port;
  InProcessServer third(&fake, same_metrics);
  EXPECT_NE(third.error.find(absl::StrCat("127.0.0.1:", first.metrics_port)), std::string::npos) << third.error;
  // The first still serves.
  EXPECT_TRUE(first.Client()->Fuse(SceneRequest(1)).ok());
}

TEST(ListenTest, OutOfRangePortsAreRefusedByName) {
  FakeFusionEngine fake;
  auto o = InProcessServer::Local(server::PipelineOptions(), false);
  o.port = 99999;
  EXPECT_NE(InProcessServer(&fake, o).error.find("port: 99999 is not 0..65535"), std::string::npos);
  o.port = 0;
  o.metrics_port = -2;
  EXPECT_NE(InProcessServer(&fake, o).error.find("metrics_port: -2 is not -1 (off) or 0..65535"), std::string::npos);
}

TEST(AuthTest, FusionCallsNeedAConfiguredTokenAndHealthStaysOpen) {
  FakeFusionEngine fake;
  auto o = InProcessServer::Local(server::PipelineOptions(), true);
  o.auth_tokens = {"first-token", "second-token"};
  o.pipeline.cache_bytes = 0;  // each authenticated call reaches the model
  InProcessServer s(&fake, o);
  ASSERT_EQ(s.error, "");
  const v1::FuseRequest req = SceneRequest(2);
  auto none = s.Client()->Fuse(req);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(none.status().message().find("authorization: Bearer <token>"), std::string::npos) << none.status();
  auto wrong = s.Client(0, 120, "first-tokem")->Fuse(req);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), "invalid bearer token");
  EXPECT_TRUE(s.Client(0, 120, "first-token")->Fuse(req).ok());
  EXPECT_TRUE(s.Client(0, 120, "second-token")->Fuse(req).ok());
  EXPECT_EQ(s.Client()->GetModelInfo().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(s.Client(0, 120, "second-token")->GetModelInfo().ok());
  // A stream without a token ends at once with UNAUTHENTICATED.
  int frames = 0;
  auto stream = s.Client()->FuseStream({req, req}, [&](const v1::StreamFuseResponse&) { ++frames; });
  EXPECT_EQ(stream.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(frames, 0);
  // KServe inference is a fusion call too; its liveness is a probe.
  auto kserve = inference::GRPCInferenceService::NewStub(s.Client()->channel());
  grpc::ClientContext infer_ctx;
  inference::ModelInferRequest infer;
  infer.set_model_name("no-such-model");  // refused before the model is looked at
  inference::ModelInferResponse infer_resp;
  EXPECT_EQ(kserve->ModelInfer(&infer_ctx, infer, &infer_resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext live_ctx;
  inference::ServerLiveResponse live;
  EXPECT_TRUE(kserve->ServerLive(&live_ctx, inference::ServerLiveRequest(), &live).ok());
  EXPECT_EQ(*s.Client()->Health(), "SERVING");
  // Counted, under their own reason.
  const auto m = s.Scrape();
  EXPECT_EQ(m.at("ctrlfuse_failures_total{reason=\"unauthenticated\"}"), 5);
  EXPECT_EQ(fake.encoded(), 2);  // only the two authenticated calls reached the model
}

// Bytes sent as they are to `method` (a generic call): what a client with
// a broken serializer, or another language's lax one, sends.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& ch, const std::string& method, const std::string& bytes) {
  grpc::GenericStub stub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status status;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    std::lock_guard<std::mutex> l(mu);
    status = std::move(s);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return done; });
  return status;
}

TEST(UnparsableRequestTest, GetsInvalidArgumentNamingTheFieldAndIsCounted) {
  FakeFusionEngine fake;
  InProcessServer s(&fake, server::PipelineOptions(), true);
  ASSERT_EQ(s.error, "");
  auto ch = s.Client()->channel();
  // FuseRequest.id (field 1, length-delimited) = 0xFF 0xFE: not UTF-8.
  const std::string bad_id("\x0a\x02\xff\xfe", 4);
  const grpc::Status utf8 = RawCall(ch, "/ctrlfuse.v1.FusionService/Fuse", bad_id);
  EXPECT_EQ(utf8.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(utf8.error_message().rfind("id: invalid UTF-8", 0), 0u) << utf8.error_message();
  // Not a protobuf at all (a truncated length-delimited field).
  const grpc::Status garbage = RawCall(ch, "/ctrlfuse.v1.FusionService/Fuse", std::string("\x12\x7f\x01", 3));
  EXPECT_EQ(garbage.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(garbage.error_message(), "request: not a valid protobuf message of this method's request type");
  const auto m = s.Scrape();
  EXPECT_EQ(m.at("ctrlfuse_requests_total{code=\"INVALID_ARGUMENT\",method=\"Fuse\"}"), 2);
  // A stream frame with invalid UTF-8 ends its stream with the field named.
  auto stub = v1::FusionService::NewStub(ch);
  grpc::ClientContext ctx;
  auto stream = stub->FuseStream(&ctx);
  v1::FuseRequest frame = SceneRequest(3);
  frame.set_id(std::string("\xff\xfe", 2));  // serialised as is (only parsing checks)
  stream->Write(frame);
  v1::StreamFuseResponse r;
  EXPECT_FALSE(stream->Read(&r));
  const grpc::Status end = stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(end.error_message().rfind("id: invalid UTF-8 in a stream frame", 0), 0u) << end.error_message();
  // The server is fine.
  EXPECT_TRUE(s.Client()->Fuse(SceneRequest(4)).ok());
}

}  // namespace
}  // namespace ctrlfuse
