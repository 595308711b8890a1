// The server over real localhost sockets with the real tiny model: each
// prompt kind, streams, batching under concurrency, queue-full rejection,
// deadlines, cancellation, the encode cache, bad input and /metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "image/codec.h"
#include "image/rle.h"
#include "tests/server/test_server.h"

namespace ctrlfuse {
namespace {
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
    o.batching.max_batch_size = 1;
    o.batching.max_queued = 2;
    o.batching.max_queue_delay = std::chrono::milliseconds(0);
    small_ = new InProcessServer(engine_, o, false);
  }
  static void TearDownTestSuite() {
    delete main_;
    delete cold_;
    delete small_;
    delete engine_;
  }

  static api::FusionEngine* engine_;
  static InProcessServer *main_, *cold_, *small_;
};
api::FusionEngine* ServerTest::engine_ = nullptr;
InProcessServer* ServerTest::main_ = nullptr;
InProcessServer* ServerTest::cold_ = nullptr;
InProcessServer* ServerTest::small_ = nullptr;

cv::Mat DecodeOut(const v1::Image& img) {
  auto m = image::Decode(img.encoded(), "response", 1 << 24);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : cv::Mat();
}

TEST_F(ServerTest, EachPromptKindFusesOverGrpc) {
  ASSERT_EQ(main_->metrics_error, "");
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
  // Text prompts are routed to Grounded-SAM, which is not built in yet.
  auto text = base;
  text.mutable_prompt()->mutable_text()->set_text("person .");
  auto t = c->Fuse(text);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(t.status().message().find("Grounded-SAM"), std::string::npos);
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
  const auto before = main_->Scrape();
  ASSERT_FALSE(before.empty());
  std::atomic<int> ok{0}, max_batch{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      auto c = main_->Client();
      for (int k = 0; k < 2; ++k) {
        auto r = c->Fuse(SceneRequest(100 + i * 2 + k, 64, 48, "c" + std::to_string(i)));
        if (r.ok()) {
          ++ok;
          int b = int(r->timings().batch_size());
          for (int m = max_batch; b > m && !max_batch.compare_exchange_weak(m, b);) {
          }
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 32);
  EXPECT_GT(max_batch, 1);
  const auto after = main_->Scrape();
  auto delta = [&](const std::string& k) { return after.at(k) - (before.count(k) ? before.at(k) : 0.0); };
  EXPECT_EQ(delta("ctrlfuse_requests_total{code=\"OK\",method=\"Fuse\"}"), 32);
  EXPECT_EQ(delta("ctrlfuse_images_fused_total"), 32);
  // Batches larger than 1 in the histogram: images per batch above 1.
  const double batches = delta("ctrlfuse_batch_size_count"), images = delta("ctrlfuse_batch_size_sum");
  EXPECT_EQ(images, 32);
  EXPECT_LT(batches, 32);
  EXPECT_EQ(after.at("ctrlfuse_model_info{config=\"tiny\",device=\"cpu\",precision=\"fp32\"}"), 1);
  EXPECT_GT(after.at("process_resident_memory_bytes"), 1e6);
  EXPECT_GT(after.at("process_cpu_seconds_total"), 0);
}

TEST_F(ServerTest, FullQueueRejectsWithUnavailable) {
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&, i] {
      auto r = small_->Client(/*retries=*/0)->Fuse(SceneRequest(200 + i, 160, 120));
      if (r.ok())
        ++ok;
      else if (r.status().code() == absl::StatusCode::kUnavailable &&
               r.status().message().find("queue full") != std::string::npos)
        ++unavailable;
      else
        ++other;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_GT(ok, 0);
  EXPECT_GT(unavailable, 0);
  EXPECT_EQ(other, 0);
}

TEST_F(ServerTest, DeadlineAndCancelNeverReachTheModel) {
  // Keep the single executor of `small_` busy, then queue calls that expire
  // or are cancelled while waiting.
  const double fused_before = small_->metrics.images_fused->Value();
  std::thread busy([&] { (void)small_->Client()->Fuse(SceneRequest(300, 480, 360)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto short_deadline = small_->Client(0, /*deadline=*/0.05)->Fuse(SceneRequest(301, 64, 48));
  EXPECT_EQ(short_deadline.status().code(), absl::StatusCode::kDeadlineExceeded);

  grpc::ClientContext ctx;
  v1::FuseResponse resp;
  auto stub = v1::FusionService::NewStub(small_->Client()->channel());
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ctx.TryCancel();
  });
  auto cancelled = stub->Fuse(&ctx, SceneRequest(302, 64, 48), &resp);
  canceller.join();
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::CANCELLED);
  busy.join();
  // Neither was computed: the executor drops them before the model.
  auto after = small_->Client()->Fuse(SceneRequest(303, 64, 48));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(small_->metrics.images_fused->Value() - fused_before, 2);  // `busy` and `after` only
}

TEST_F(ServerTest, ReprompHitsTheCacheAndEqualsAColdRequest) {
  auto c = main_->Client();
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
  // Nothing broke: the same client still gets answers.
  EXPECT_TRUE(c->Fuse(good).ok());
}

TEST_F(ServerTest, PadToBucketPolicyBatchesMixedSizesAndCropsBack) {
  server::PipelineOptions o;
  o.batching.max_batch_size = 4;
  o.batching.max_queue_delay = std::chrono::milliseconds(200);
  o.pad_buckets = {cv::Size(96, 64)};
  InProcessServer padded(engine_, o, false);
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
  EXPECT_GT(padded.metrics.padding_ratio->Collect().histogram.sample_count, 0u);
}

}  // namespace
}  // namespace ctrlfuse
