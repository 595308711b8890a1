// The server over real localhost sockets with the real tiny model: each
// prompt kind, streams, batching under concurrency, the encode cache, bad
// input and /metrics. Queue-full rejection, deadlines, cancellation and
// warm-up run on a test double of the engine that the test holds busy, and
// batching on a fake clock: no test here sleeps or depends on timing.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "image/codec.h"
#include "image/rle.h"
#include "tests/server/test_server.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_fusion_engine.h"

namespace ctrlfuse {
namespace {
using testing::FakeClock;
using testing::FakeFusionEngine;
using testing::InProcessServer;
using testing::SceneRequest;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    api::EngineOptions e;
    e.config = "tiny";
    e.seed = 0;
    engine_ = std::move(*api::FusionEngine::Create(e)).release();
    server::PipelineOptions o;
    o.batching.max_batch_size = 4;
    o.batching.max_queue_delay = std::chrono::milliseconds(30);
    o.batching.max_queued = 64;
    main_ = new InProcessServer(engine_, o, /*serve_metrics=*/true);
    o.cache_bytes = 0;
    cold_ = new InProcessServer(engine_, o, false);
  }
  static void TearDownTestSuite() {
    delete main_;
    delete cold_;
    delete engine_;
  }

  static api::FusionEngine* engine_;
  static InProcessServer *main_, *cold_;
};
api::FusionEngine* ServerTest::engine_ = nullptr;
InProcessServer* ServerTest::main_ = nullptr;
InProcessServer* ServerTest::cold_ = nullptr;

// One executor, batches of one, no queue delay: the executor is busy
// exactly while the test holds the fake engine.
server::PipelineOptions OneAtATime(size_t max_queued) {
  server::PipelineOptions o;
  o.batching.max_batch_size = 1;
  o.batching.max_queued = max_queued;
  o.batching.max_queue_delay = std::chrono::milliseconds(0);
  o.cache_bytes = 0;
  return o;
}

cv::Mat DecodeOut(const v1::Image& img) {
  auto m = image::Decode(img.encoded(), "response", 1 << 24);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : cv::Mat();
}

TEST_F(ServerTest, EachPromptKindFusesOverGrpc) {
  ASSERT_EQ(main_->error, "");
  auto c = main_->Client();
  auto base = SceneRequest(1, 64, 48);
  std::vector<std::pair<std::string, v1::Prompt>> prompts;
  prompts.emplace_back("mask", base.prompt());
  v1::Prompt rle;
  auto mask = *image::Decode(base.prompt().mask().encoded(), "m", 1 << 20);
  rle.mutable_rle_mask()->set_width(64);
  rle.mutable_rle_mask()->set_height(48);
  for (auto c : image::EncodeRle(mask)) rle.mutable_rle_mask()->add_counts(c);
  prompts.emplace_back("rle", rle);
  v1::Prompt boxes;
  auto* b = boxes.mutable_boxes()->add_boxes();
  b->set_x0(10), b->set_y0(10), b->set_x1(40), b->set_y1(30);
  auto* b2 = boxes.mutable_boxes()->add_boxes();
  b2->set_x0(30), b2->set_y0(20), b2->set_x1(60), b2->set_y1(45);
  prompts.emplace_back("boxes", boxes);
  v1::Prompt points;
  auto* p = points.mutable_points()->add_points();
  p->set_x(20), p->set_y(20), p->set_foreground(true);
  prompts.emplace_back("points", points);
  v1::Prompt none;
  none.mutable_none();
  prompts.emplace_back("none", none);
  std::map<std::string, cv::Mat> fused;
  for (auto& [name, prompt] : prompts) {
    auto req = base;
    *req.mutable_prompt() = prompt;
    req.set_id(name);
    req.mutable_options()->add_return_masks(v1::MASK_KIND_PROMPT);
    auto resp = c->Fuse(req);
    ASSERT_TRUE(resp.ok()) << name << ": " << resp.status();
    EXPECT_EQ(resp->id(), name);
    fused[name] = DecodeOut(resp->fused());
    EXPECT_EQ(fused[name].size(), cv::Size(64, 48)) << name;
    EXPECT_EQ(fused[name].channels(), 1) << name;
    ASSERT_EQ(resp->masks_size(), 2) << name;
    EXPECT_EQ(resp->masks(0).kind(), v1::MASK_KIND_FUSED);
    cv::Mat prompt_mask = DecodeOut(resp->masks(1).image());
    if (name == "mask" || name == "rle") {
      EXPECT_EQ(cv::countNonZero(prompt_mask != mask), 0) << name;
    }
    if (name == "none") {
      EXPECT_EQ(cv::countNonZero(prompt_mask), 0);
    }
    EXPECT_GE(resp->timings().batch_size(), 1u);
  }
  // The RLE and the PNG of one mask are the same prompt.
  EXPECT_EQ(cv::norm(fused["mask"], fused["rle"], cv::NORM_INF), 0);
  // Text prompts need a grounding model, which this server has not got
  // (tests/server/text_prompt_test.cc serves them): the message names the flags.
  auto text = base;
  text.mutable_prompt()->mutable_text()->set_text("person .");
  auto t = c->Fuse(text);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(t.status().message().find("--grounding_checkpoint"), std::string::npos) << t.status();
}

TEST_F(ServerTest, ColourJpegRawOutputsAndMetrics) {
  auto c = main_->Client();
  auto req = SceneRequest(2, 64, 48);
  req.mutable_options()->set_color(v1::COLOR_MODE_COLOR);
  req.mutable_options()->add_metrics("Qabf");
  req.mutable_options()->add_metrics("SSIM");
  auto resp = c->Fuse(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(DecodeOut(resp->fused()).channels(), 3);
  EXPECT_EQ(resp->metrics().size(), 2u);
  EXPECT_GE(resp->metrics().at("Qabf"), 0.0);
  EXPECT_LE(resp->metrics().at("Qabf"), 1.0);
  req.mutable_options()->set_encoding(v1::OUTPUT_ENCODING_RAW);
  req.mutable_options()->clear_metrics();
  auto raw = c->Fuse(req);
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw->fused().has_raw());
  EXPECT_EQ(raw->fused().raw().pixels().size(), 64u * 48u * 3u);
  req.mutable_options()->set_encoding(v1::OUTPUT_ENCODING_JPEG);
  auto jpg = c->Fuse(req);
  ASSERT_TRUE(jpg.ok());
  EXPECT_EQ(image::SniffFormat(jpg->fused().encoded()), image::Format::kJpeg);
}

TEST_F(ServerTest, StreamAnswersInOrderAndSurvivesABadFrame) {
  auto c = main_->Client();
  std::vector<v1::FuseRequest> frames;
  for (int i = 0; i < 6; ++i) frames.push_back(SceneRequest(10 + i, 64, 48, "frame" + std::to_string(i)));
  frames[2].mutable_visible()->set_encoded("not an image");
  std::vector<v1::StreamFuseResponse> got;
  auto s = c->FuseStream(frames, [&](const v1::StreamFuseResponse& r) { got.push_back(r); });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(got.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(got[i].response().id(), "frame" + std::to_string(i));
    if (i == 2) {
      EXPECT_EQ(got[i].code(), int(absl::StatusCode::kInvalidArgument));
      EXPECT_NE(got[i].message().find("visible.encoded"), std::string::npos) << got[i].message();
    } else {
      EXPECT_EQ(got[i].code(), 0) << got[i].message();
      EXPECT_EQ(DecodeOut(got[i].response().fused()).size(), cv::Size(64, 48));
    }
  }
}

TEST_F(ServerTest, SixteenConcurrentClientsFormBatchesAndMetricsCountThem) {
  // On a fake clock the queue delay never passes: a batch closes only when
  // it is full, so 32 requests make 8 batches of 4 whatever the load.
  FakeClock clock;
  server::PipelineOptions o;
  o.batching.max_batch_size = 4;
  o.batching.max_queue_delay = std::chrono::hours(1);
  o.batching.max_queued = 64;
  InProcessServer batching(engine_, o, /*serve_metrics=*/true, &clock);
  ASSERT_EQ(batching.error, "");
  const auto before = batching.Scrape();
  ASSERT_FALSE(before.empty());
  std::atomic<int> ok{0}, max_batch{0};
  std::vector<std::thread> calls;
  for (int i = 0; i < 16; ++i) {
    std::shared_ptr<client::FusionClient> c = batching.Client();
    for (int k = 0; k < 2; ++k) {  // two calls in flight per client
      calls.emplace_back([&, c, i, k] {
        auto r = c->Fuse(SceneRequest(100 + i * 2 + k, 64, 48, "c" + std::to_string(i)));
        if (r.ok()) {
          ++ok;
          int b = int(r->timings().batch_size());
          for (int m = max_batch; b > m && !max_batch.compare_exchange_weak(m, b);) {
          }
        }
      });
    }
  }
  for (auto& t : calls) t.join();
  EXPECT_EQ(ok, 32);
  EXPECT_GT(max_batch, 1);
  EXPECT_EQ(max_batch, 4);
  const auto after = batching.Scrape();
  auto delta = [&](const std::string& k) { return after.at(k) - (before.count(k) ? before.at(k) : 0.0); };
  EXPECT_EQ(delta("ctrlfuse_requests_total{code=\"OK\",method=\"Fuse\"}"), 32);
  EXPECT_EQ(delta("ctrlfuse_images_fused_total"), 32);
  // Batches larger than 1 in the histogram: images per batch above 1.
  const double batches = delta("ctrlfuse_batch_size_count"), images = delta("ctrlfuse_batch_size_sum");
  EXPECT_EQ(images, 32);
  EXPECT_LT(batches, 32);
  EXPECT_EQ(batches, 8);
  EXPECT_EQ(after.at("ctrlfuse_model_info{config=\"tiny\",device=\"cpu\",precision=\"fp32\"}"), 1);
  EXPECT_GT(after.at("process_resident_memory_bytes"), 1e6);
  EXPECT_GT(after.at("process_cpu_seconds_total"), 0);
}

// GetModelInfo calls a server has answered (its own metrics).
double ModelInfoCalls(InProcessServer& s) {
  for (const auto& f : s.metrics().registry().Collect())
    if (f.name == "ctrlfuse_requests_total")
      for (const auto& m : f.metric) {
        std::map<std::string, std::string> labels;
        for (const auto& l : m.label) labels[l.name] = l.value;
        if (labels["method"] == "GetModelInfo" && labels["code"] == "OK") return m.counter.value;
      }
  return 0;
}

// The client spreads calls over every address its target resolves to (as a
// dns:/// headless Service resolves to every pod): once both servers are
// connected, round_robin alternates; pick_first sends everything to one.
TEST(ClientLoadBalancingTest, RoundRobinSpreadsCallsOverEveryAddress) {
  FakeFusionEngine fake;  // test double: no model work is needed
  InProcessServer a(&fake, OneAtATime(4), false), b(&fake, OneAtATime(4), false);
  ASSERT_EQ(a.error, "");
  ASSERT_EQ(b.error, "");
  const std::string target = "ipv4:127.0.0.1:" + std::to_string(a.port) + ",127.0.0.1:" + std::to_string(b.port);
  client::ClientOptions o;
  o.address = target;
  o.retries = 0;
  auto rr = client::FusionClient::Create(o);
  ASSERT_TRUE(rr.ok());
  // Until both subchannels are READY round_robin uses the ready one; bound
  // the wait by a call count, not by time.
  for (int i = 0; i < 1000 && (ModelInfoCalls(a) == 0 || ModelInfoCalls(b) == 0); ++i)
    ASSERT_TRUE((*rr)->GetModelInfo().ok());
  ASSERT_GT(ModelInfoCalls(a), 0);
  ASSERT_GT(ModelInfoCalls(b), 0);
  const double a0 = ModelInfoCalls(a), b0 = ModelInfoCalls(b);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*rr)->GetModelInfo().ok());
  EXPECT_EQ(ModelInfoCalls(a) - a0, 5);
  EXPECT_EQ(ModelInfoCalls(b) - b0, 5);

  o.load_balancing = "pick_first";
  auto pf = client::FusionClient::Create(o);
  ASSERT_TRUE(pf.ok());
  const double a1 = ModelInfoCalls(a), b1 = ModelInfoCalls(b);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*pf)->GetModelInfo().ok());
  EXPECT_EQ((ModelInfoCalls(a) - a1) * (ModelInfoCalls(b) - b1), 0);  // all on one
  EXPECT_EQ(ModelInfoCalls(a) - a1 + ModelInfoCalls(b) - b1, 10);

  o.load_balancing = "random";
  auto bad = client::FusionClient::Create(o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("load_balancing"), std::string::npos);
}

TEST(ClientHealthTest, HealthFollowsTheServersState) {
  FakeFusionEngine fake;  // test double
  InProcessServer s(&fake, OneAtATime(4), false);
  ASSERT_EQ(s.error, "");
  auto health = s.Client()->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
  EXPECT_EQ(s.Client()->Health("no.such.Service").status().code(), absl::StatusCode::kNotFound);
}

// A client that is told the server is warming up waits (as long as
// wait_for_server_seconds allows) and is served once warm-up ends; one that
// may not wait gets UNAVAILABLE "warming up" at once. The fake engine holds
// warm-up until the test has seen the waiting client refused twice.
TEST(ClientWarmUpTest, AClientWaitsOutTheWarmUpWhenAllowedTo) {
  FakeFusionEngine fake;  // test double: the test holds its warm-up
  server::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.metrics_port = -1;
  o.pipeline = OneAtATime(4);
  o.warmup_sizes = {cv::Size(64, 48)};
  server::RealClock clock;
  auto s = server::FusionServer::Create(&fake, o, &clock);
  ASSERT_TRUE(s.ok()) << s.status();
  fake.Hold();
  std::thread warm([&] { EXPECT_TRUE((*s)->WarmUpAndServe().ok()); });
  fake.WaitUntilWaiting(1);  // warm-up is under way

  client::ClientOptions co;
  co.address = "127.0.0.1:" + std::to_string((*s)->port());
  co.retries = 0;
  auto impatient = client::FusionClient::Create(co);
  auto refused = (*impatient)->Fuse(SceneRequest(300));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("warming up"), std::string::npos) << refused.status();

  co.wait_for_server_seconds = 600;
  co.backoff_seconds = 0.01;
  co.max_backoff_seconds = 0.05;
  auto patient = client::FusionClient::Create(co);
  absl::StatusOr<v1::FuseResponse> served;
  std::thread call([&] { served = (*patient)->Fuse(SceneRequest(301)); });
  (*s)->service().WaitUntilAnswered(3);  // the impatient refusal and two of the patient client's
  fake.Release();
  call.join();
  warm.join();
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_TRUE(served->has_fused());
}

TEST_F(ServerTest, FullQueueRejectsWithUnavailable) {
  FakeFusionEngine fake;  // test double: held busy by the test
  InProcessServer small(&fake, OneAtATime(/*max_queued=*/2), false);
  ASSERT_EQ(small.error, "");
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  auto tally = [&](const absl::StatusOr<v1::FuseResponse>& r) {
    if (r.ok())
      ++ok;
    else if (r.status().code() == absl::StatusCode::kUnavailable &&
             r.status().message().find("queue full") != std::string::npos)
      ++unavailable;
    else
      ++other;
  };
  fake.Hold();
  std::vector<std::thread> accepted;
  accepted.emplace_back([&] { tally(small.Client()->Fuse(SceneRequest(200, 160, 120))); });
  fake.WaitUntilWaiting(1);  // the executor is busy with it
  for (int i = 1; i <= 2; ++i)
    accepted.emplace_back([&, i] { tally(small.Client()->Fuse(SceneRequest(200 + i, 160, 120))); });
  small.pipeline().scheduler().WaitUntilQueued(2);  // the queue is full
  for (int i = 3; i < 11; ++i) tally(small.Client(/*retries=*/0)->Fuse(SceneRequest(200 + i, 160, 120)));
  // Refused before decoding: an undecodable request gets "queue full", not
  // INVALID_ARGUMENT.
  v1::FuseRequest garbage = SceneRequest(211, 160, 120);
  garbage.mutable_visible()->set_encoded("\x89PNG\r\n\x1a\n-garbage");
  tally(small.Client(/*retries=*/0)->Fuse(garbage));
  fake.Release();
  for (auto& t : accepted) t.join();
  EXPECT_GT(ok, 0);
  EXPECT_GT(unavailable, 0);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(unavailable, 9);
}

TEST_F(ServerTest, DeadlineAndCancelNeverReachTheModel) {
  // Keep the single executor busy, then queue calls that expire or are
  // cancelled while waiting.
  // Deadlines are in the pipeline clock's time: the test moves it past
  // one once that request is queued.
  FakeFusionEngine fake;  // test double: held busy by the test
  FakeClock clock;
  InProcessServer small(&fake, OneAtATime(/*max_queued=*/8), /*serve_metrics=*/true, &clock);
  ASSERT_EQ(small.error, "");
  const double fused_before = small.metrics().images_fused->Value();
  fake.Hold();
  // `busy` and `after` have deadlines beyond the two fake minutes the test
  // moves the clock by (batches check deadlines between encode and decode,
  // and the cost model learns that a batch took two minutes).
  std::thread busy([&] { EXPECT_TRUE(small.Client(0, 600)->Fuse(SceneRequest(300, 480, 360)).ok()); });
  fake.WaitUntilWaiting(1);
  absl::StatusOr<v1::FuseResponse> short_deadline;
  std::thread expiring([&] { short_deadline = small.Client(0, /*deadline=*/60)->Fuse(SceneRequest(301, 64, 48)); });
  small.pipeline().scheduler().WaitUntilQueued(1);  // it waits behind `busy`
  clock.Advance(std::chrono::minutes(2));           // past its deadline
  expiring.join();
  EXPECT_EQ(short_deadline.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(small.service().answered(), 1u);

  grpc::ClientContext ctx;
  v1::FuseResponse resp;
  auto stub = v1::FusionService::NewStub(small.Client()->channel());
  grpc::Status cancelled;
  std::thread caller([&] { cancelled = stub->Fuse(&ctx, SceneRequest(302, 64, 48), &resp); });
  small.pipeline().scheduler().WaitUntilQueued(1);  // it waits behind `busy`
  ctx.TryCancel();
  caller.join();
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::CANCELLED);
  small.service().WaitUntilAnswered(2);  // withdrawn from the queue
  EXPECT_EQ(small.pipeline().scheduler().queued(), 0u);
  // The gauge says so too (it stayed at the last value set before the
  // withdrawals).
  EXPECT_EQ(small.Scrape().at("ctrlfuse_queued_requests"), 0);
  fake.Release();
  busy.join();
  // Neither was computed: they left the queue before the model.
  auto after = small.Client(0, 600)->Fuse(SceneRequest(303, 64, 48));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(small.metrics().images_fused->Value() - fused_before, 2);  // `busy` and `after` only
  EXPECT_EQ(fake.encoded(), 2);
}

TEST_F(ServerTest, NotServingUntilWarmUpEnds) {
  FakeFusionEngine fake;  // test double: holds the warm-up
  server::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.metrics_port = -1;
  o.warmup_sizes = {cv::Size(64, 48)};
  o.pipeline.batching.max_batch_size = 2;
  server::RealClock clock;
  auto s = server::FusionServer::Create(&fake, o, &clock);
  ASSERT_TRUE(s.ok()) << s.status();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*s)->port()), grpc::InsecureChannelCredentials());
  auto health = [&] {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse out;
    auto st = stub->Check(&ctx, {}, &out);
    return st.ok() ? out.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  };
  using HS = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(health(), HS::NOT_SERVING);
  fake.Hold();
  std::thread warm([&] { EXPECT_TRUE((*s)->WarmUpAndServe().ok()); });
  fake.WaitUntilWaiting(1);  // warming up
  EXPECT_EQ(health(), HS::NOT_SERVING);
  client::ClientOptions co;
  co.address = "127.0.0.1:" + std::to_string((*s)->port());
  co.retries = 0;
  auto early = (*client::FusionClient::Create(co))->Fuse(SceneRequest(1, 64, 48));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable);
  fake.Release();
  warm.join();
  EXPECT_EQ(health(), HS::SERVING);
  EXPECT_EQ(fake.encoded(), 1 + 2);  // 64x48 at batch sizes 1 and 2
  EXPECT_TRUE((*client::FusionClient::Create(co))->Fuse(SceneRequest(1, 64, 48)).ok());
}

TEST_F(ServerTest, ReprompHitsTheCacheAndEqualsAColdRequest) {
  auto c = main_->Client();
  const auto before = main_->Scrape();
  auto first = SceneRequest(400, 96, 64);
  auto r1 = c->Fuse(first);
  ASSERT_TRUE(r1.ok());
  EXPECT_FALSE(r1->timings().cache_hit());
  // New prompt on the same pair: another target's mask.
  image::SceneOptions o;
  o.seed = 400;
  o.width = 96;
  o.height = 64;
  auto scene = image::GenerateScene(o);
  auto second = first;
  second.mutable_prompt()->mutable_mask()->set_encoded(testing::Png(scene.targets.at(1).mask));
  second.mutable_options()->add_return_masks(v1::MASK_KIND_PROMPT);
  auto r2 = c->Fuse(second);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->timings().cache_hit());
  // The cache's own counts, exported at the scrape: one miss, then one hit.
  const auto scraped = main_->Scrape();
  auto delta = [&](const std::string& k) { return scraped.at(k) - (before.count(k) ? before.at(k) : 0.0); };
  EXPECT_EQ(delta("ctrlfuse_encode_cache_misses_total"), 1);
  EXPECT_EQ(delta("ctrlfuse_encode_cache_hits_total"), 1);
  EXPECT_GT(scraped.at("ctrlfuse_encode_cache_bytes"), 0);
  EXPECT_GE(scraped.at("ctrlfuse_encode_cache_entries"), 1);
  auto cold = cold_->Client()->Fuse(second);
  ASSERT_TRUE(cold.ok());
  EXPECT_FALSE(cold->timings().cache_hit());
  EXPECT_EQ(r2->fused().encoded(), cold->fused().encoded());
  EXPECT_EQ(r2->masks(0).image().encoded(), cold->masks(0).image().encoded());  // predicted masks too
  // The re-prompt ran with the new mask (whether the seeded random weights
  // turn it into a different fusion is the model tests' business).
  ASSERT_EQ(r2->masks_size(), 2);
  EXPECT_EQ(cv::norm(DecodeOut(r2->masks(1).image()), scene.targets.at(1).mask, cv::NORM_INF), 0);
}

TEST_F(ServerTest, BadInputGetsInvalidArgumentNamingTheField) {
  auto c = main_->Client();
  const auto good = SceneRequest(500, 64, 48);
  struct Case {
    std::string name, field;
    std::function<void(v1::FuseRequest&)> edit;
    absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  };
  std::string bomb = good.infrared().encoded();
  bomb[16] = 0, bomb[17] = 0, bomb[18] = 0x7f, bomb[19] = 0;  // width 32512
  bomb[20] = 0, bomb[21] = 0, bomb[22] = 0x7f, bomb[23] = 0;
  const std::string gif = "GIF89a\x01\x00\x01\x00";
  std::vector<Case> cases = {
      {"undecodable", "infrared.encoded",
       [](auto& r) { r.mutable_infrared()->set_encoded("\x89PNG\r\n\x1a\n garbage garbage garbage"); }},
      {"truncated", "visible.encoded",
       [](auto& r) { r.mutable_visible()->set_encoded(r.visible().encoded().substr(0, 100)); }},
      {"unsupported", "infrared.encoded", [&](auto& r) { r.mutable_infrared()->set_encoded(gif); }},
      {"missing image", "visible", [](auto& r) { r.clear_visible(); }},
      {"size mismatch", "visible", [](auto& r) { *r.mutable_visible() = SceneRequest(1, 32, 32).visible(); }},
      {"mask size", "prompt.mask", [](auto& r) { *r.mutable_prompt() = SceneRequest(1, 32, 32).prompt(); }},
      {"bomb", "infrared.encoded", [&](auto& r) { r.mutable_infrared()->set_encoded(bomb); }},
      {"zero size", "infrared.raw", [](auto& r) { r.mutable_infrared()->mutable_raw()->set_width(0); }},
      {"channels", "infrared.raw",
       [](auto& r) {
         auto* raw = r.mutable_infrared()->mutable_raw();
         raw->set_width(64), raw->set_height(48), raw->set_channels(2), raw->set_bit_depth(8);
         raw->set_pixels(std::string(64 * 48 * 2, 'x'));
       }},
      {"bit depth", "infrared.raw",
       [](auto& r) {
         auto* raw = r.mutable_infrared()->mutable_raw();
         raw->set_width(64), raw->set_height(48), raw->set_channels(1), raw->set_bit_depth(12);
         raw->set_pixels(std::string(64 * 48, 'x'));
       }},
      {"raw length", "infrared.raw",
       [](auto& r) {
         auto* raw = r.mutable_infrared()->mutable_raw();
         raw->set_width(64), raw->set_height(48), raw->set_channels(1), raw->set_bit_depth(8);
         raw->set_pixels(std::string(100, 'x'));
       }},
      {"malformed rle", "prompt.rle_mask",
       [](auto& r) {
         auto* rle = r.mutable_prompt()->mutable_rle_mask();
         rle->set_width(64), rle->set_height(48), rle->add_counts(5);
       }},
      {"empty prompt", "prompt", [](auto& r) { r.clear_prompt(); }},
      {"empty boxes", "prompt.boxes", [](auto& r) { r.mutable_prompt()->mutable_boxes(); }},
      {"too many boxes", "prompt.boxes",
       [](auto& r) {
         for (int i = 0; i < 65; ++i) {
           auto* b = r.mutable_prompt()->mutable_boxes()->add_boxes();
           b->set_x0(1), b->set_y0(1), b->set_x1(9), b->set_y1(9);
         }
       }},
      {"bad box", "prompt.boxes[0]",
       [](auto& r) {
         auto* b = r.mutable_prompt()->mutable_boxes()->add_boxes();
         b->set_x0(30), b->set_x1(10), b->set_y1(5);
       }},
      {"unknown colour", "options.color",
       [](auto& r) { r.mutable_options()->set_color(static_cast<v1::ColorMode>(7)); }},
      {"unknown encoding", "options.encoding",
       [](auto& r) { r.mutable_options()->set_encoding(static_cast<v1::OutputEncoding>(9)); }},
      {"unknown mask kind", "options.return_masks[1]",
       [](auto& r) { r.mutable_options()->add_return_masks(static_cast<v1::MaskKind>(42)); }},
      {"unknown metric", "options.metrics", [](auto& r) { r.mutable_options()->add_metrics("BRISQUE"); }},
      {"ir normalisation", "options.ir_normalization",
       [](auto& r) { r.mutable_options()->set_ir_normalization("gamma"); }},
  };
  const auto before = main_->Scrape();
  for (const auto& k : cases) {
    auto req = good;
    k.edit(req);
    auto r = c->Fuse(req);
    EXPECT_EQ(r.status().code(), k.code) << k.name << ": " << r.status();
    EXPECT_EQ(r.status().message().rfind(k.field, 0), 0u) << k.name << ": " << r.status().message();
  }
  const auto after = main_->Scrape();
  const std::string key = "ctrlfuse_requests_total{code=\"INVALID_ARGUMENT\",method=\"Fuse\"}";
  EXPECT_EQ(after.at(key) - (before.count(key) ? before.at(key) : 0), double(cases.size()));
  // Each failure counted once, its reason from the status code.
  const std::string invalid = "ctrlfuse_failures_total{reason=\"invalid\"}";
  EXPECT_EQ(after.at(invalid) - (before.count(invalid) ? before.at(invalid) : 0), double(cases.size()));
  // Nothing broke: the same client still gets answers.
  EXPECT_TRUE(c->Fuse(good).ok());
}

TEST_F(ServerTest, PadToBucketPolicyBatchesMixedSizesAndCropsBack) {
  // Fake clock: the batch closes when all four are in, never by delay.
  FakeClock clock;
  server::PipelineOptions o;
  o.batching.max_batch_size = 4;
  o.batching.max_queue_delay = std::chrono::hours(1);
  o.pad_buckets = {cv::Size(96, 64)};
  InProcessServer padded(engine_, o, false, &clock);
  std::vector<std::thread> ts;
  std::atomic<int> batched{0};
  std::vector<cv::Size> sizes = {{64, 48}, {96, 64}, {80, 60}, {70, 50}};
  for (auto s : sizes)
    ts.emplace_back([&, s] {
      auto r = padded.Client()->Fuse(SceneRequest(600, s.width, s.height));
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(DecodeOut(r->fused()).size(), s);
      if (r->timings().batch_size() > 1) ++batched;
    });
  for (auto& t : ts) t.join();
  EXPECT_GT(batched, 0);  // different sizes shared a batch
  EXPECT_EQ(batched, 4);
  EXPECT_GT(padded.metrics().padding_ratio->Collect().histogram.sample_count, 0u);
}

}  // namespace
}  // namespace ctrlfuse
