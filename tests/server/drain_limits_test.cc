// Streams and connections under limits and drains, in-process on real
// sockets: a frame sent once the drain began is refused and ends its
// stream with UNAVAILABLE (it used to be accepted, frame after frame), the
// stream over --max_streams is refused with RESOURCE_EXHAUSTED, and a
// connection that never speaks HTTP/2 is closed by the server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tests/server/test_server.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_fusion_engine.h"

namespace ctrlfuse {
namespace {

using testing::FakeFusionEngine;
using testing::InProcessServer;
using testing::SceneRequest;

TEST(DrainTest, AFrameSentDuringTheDrainIsRefusedAndEndsItsStream) {
  FakeFusionEngine fake;  // test double: no model needed
  InProcessServer s(&fake, server::PipelineOptions(), false);
  ASSERT_EQ(s.error, "");
  auto stub = v1::FusionService::NewStub(s.Client()->channel());
  grpc::ClientContext ctx;
  auto stream = stub->FuseStream(&ctx);
  ASSERT_TRUE(stream->Write(SceneRequest(1)));
  v1::StreamFuseResponse r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.code(), 0);
  s.service().SetServing(false);  // what Drain does first
  ASSERT_TRUE(stream->Write(SceneRequest(2, 64, 48, "late")));
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.code(), int(grpc::StatusCode::UNAVAILABLE));
  EXPECT_EQ(r.response().id(), "late");
  EXPECT_FALSE(stream->Read(&r));  // the server ended the stream
  const grpc::Status end = stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(end.error_message().find("resume the stream on another server"), std::string::npos);
  EXPECT_EQ(fake.encoded(), 1);
}

TEST(LimitsTest, TheStreamOverTheLimitIsRefusedAndAClosedOneFreesItsPlace) {
  FakeFusionEngine fake;
  auto o = InProcessServer::Local(server::PipelineOptions(), false);
  o.max_streams = 2;
  InProcessServer s(&fake, o);
  ASSERT_EQ(s.error, "");
  auto stub = v1::FusionService::NewStub(s.Client()->channel());
  grpc::ClientContext a_ctx, b_ctx;
  auto a = stub->FuseStream(&a_ctx), b = stub->FuseStream(&b_ctx);
  v1::StreamFuseResponse r;
  for (auto* st : {a.get(), b.get()}) {  // both open and answered
    ASSERT_TRUE(st->Write(SceneRequest(3)));
    ASSERT_TRUE(st->Read(&r));
    EXPECT_EQ(r.code(), 0);
  }
  {
    grpc::ClientContext c_ctx;
    auto c = stub->FuseStream(&c_ctx);
    c->Write(SceneRequest(4));
    EXPECT_FALSE(c->Read(&r));
    const grpc::Status refused = c->Finish();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(refused.error_message(), "too many open streams (2): retry later, or send unary Fuse calls");
  }
  a->WritesDone();
  EXPECT_FALSE(a->Read(&r));
  EXPECT_TRUE(a->Finish().ok());
  // a's place is free (its handler counted it closed before its status
  // was sent): the next stream is served.
  grpc::ClientContext d_ctx;
  auto d = stub->FuseStream(&d_ctx);
  ASSERT_TRUE(d->Write(SceneRequest(5)));
  ASSERT_TRUE(d->Read(&r));
  EXPECT_EQ(r.code(), 0);
  d->WritesDone();
  EXPECT_TRUE(d->Finish().ok());
  b->WritesDone();
  b->Finish();
}

TEST(LimitsTest, AConnectionThatNeverSpeaksHttp2IsClosed) {
  FakeFusionEngine fake;
  auto o = InProcessServer::Local(server::PipelineOptions(), false);
  o.handshake_timeout_seconds = 1;
  InProcessServer s(&fake, o);
  ASSERT_EQ(s.error, "");
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(s.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // A guard, not a measurement: without the server's timeout this read
  // would block for gRPC's default of 120 s; it fails after 60 s instead.
  timeval guard{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
  char buf[64];
  ssize_t n = 0;
  do {
    n = recv(fd, buf, sizeof(buf), 0);  // the server's SETTINGS may come first; then the close
  } while (n > 0);
  EXPECT_EQ(n, 0) << "the server did not close the connection (errno " << errno << ")";
  close(fd);
}

TEST(CostModelTest, ARequestTheModelCannotFinishInTimeIsRefusedBeforeItQueues) {
  FakeFusionEngine fake;  // test double: held while the fake clock moves, so a batch "takes" 10 s
  testing::FakeClock clock;
  server::PipelineOptions p;
  p.batching.max_batch_size = 1;
  p.batching.max_queue_delay = std::chrono::milliseconds(0);
  p.cache_bytes = 0;
  InProcessServer s(&fake, p, false, &clock);
  ASSERT_EQ(s.error, "");
  fake.Hold();
  std::thread first([&] { EXPECT_TRUE(s.Client()->Fuse(SceneRequest(1)).ok()); });
  fake.WaitUntilWaiting(1);
  clock.Advance(std::chrono::seconds(10));
  fake.Release();
  first.join();
  EXPECT_NEAR(s.pipeline().costs().EstimateSeconds({64, 48}), 10, 1e-6);
  EXPECT_NEAR(s.pipeline().costs().EstimateSeconds({128, 96}), 40, 1e-6);  // unseen: by pixels
  // 5 s is not enough for what took 10 s: refused at once, never computed.
  auto late = s.Client(0, /*deadline=*/5)->Fuse(SceneRequest(2));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(late.status().message().rfind("cannot finish before the deadline: the model needs about 10 s for 64x48", 0),
            0u)
      << late.status();
  EXPECT_EQ(fake.encoded(), 1);
  // With time enough it runs.
  EXPECT_TRUE(s.Client(0, /*deadline=*/60)->Fuse(SceneRequest(3)).ok());
  EXPECT_EQ(fake.encoded(), 2);
}

}  // namespace
}  // namespace ctrlfuse
