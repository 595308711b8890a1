// Text prompts end to end over real gRPC: Grounded-SAM on the tiny
// GroundingDINO and the tiny CtrlFuse (seeded random weights, so the
// thresholds are set low enough for boxes to pass): detections come back
// with the fused image, the prompt mask is exactly SAM's on those boxes,
// each image source works, bad captions and thresholds get INVALID_ARGUMENT
// naming the field, the caption's encoding is cached (timings and /metrics
// say so), and GetModelInfo lists the kind. Labels `grounding`, `server`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <thread>

#include "image/codec.h"
#include "image/image_data.h"
#include "image/scenes.h"
#include "tests/server/test_server.h"

namespace ctrlfuse {
namespace {
using testing::InProcessServer;
using testing::SceneRequest;

// A WordPiece vocabulary for the captions below (the tiny BERT has 30,522
// embeddings; any ids below that serve).
std::string WriteVocab() {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ctrlfuse_vocab_" + std::to_string(getpid()) + ".txt")).string();
  std::ofstream out(path);
  for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "?", "person", "car", "dog", "red", "van",
                        "##s", "a", "the", "bicycle"})
    out << t << "\n";
  return path;
}

class TextPromptTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    api::EngineOptions e;
    e.config = "tiny";
    engine_ = std::move(*api::FusionEngine::Create(e)).release();
    vocab_ = WriteVocab();
    api::GroundingOptions g;
    g.config = "tiny";
    g.vocab = vocab_;
    g.seed = 1;
    auto created = api::GroundingEngine::Create(g);
    ASSERT_TRUE(created.ok()) << created.status();
    grounding_ = created->release();
    server::PipelineOptions o;
    o.batching.max_batch_size = 2;
    o.grounding = grounding_;
    server_ = new InProcessServer(engine_, o, /*serve_metrics=*/true);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete grounding_;
    delete engine_;
    std::filesystem::remove(vocab_);
  }

  static v1::FuseRequest TextRequest(const std::string& caption, v1::GroundingSource source) {
    v1::FuseRequest r = SceneRequest(3, 64, 48);
    auto* text = r.mutable_prompt()->mutable_text();
    text->set_text(caption);
    text->set_box_threshold(0.05f);
    text->set_text_threshold(0.05f);
    text->set_source(source);
    r.mutable_options()->add_return_masks(v1::MASK_KIND_PROMPT);
    return r;
  }

  static cv::Mat PromptMask(const v1::FuseResponse& resp) {
    for (const auto& m : resp.masks())
      if (m.kind() == v1::MASK_KIND_PROMPT) return *image::Decode(m.image().encoded(), "mask", 1 << 20);
    return cv::Mat();
  }

  static api::FusionEngine* engine_;
  static api::GroundingEngine* grounding_;
  static InProcessServer* server_;
  static std::string vocab_;
};
api::FusionEngine* TextPromptTest::engine_ = nullptr;
api::GroundingEngine* TextPromptTest::grounding_ = nullptr;
InProcessServer* TextPromptTest::server_ = nullptr;
std::string TextPromptTest::vocab_;

TEST_F(TextPromptTest, DetectionsComeBackAndThePromptMaskIsSamOnTheirBoxes) {
  ASSERT_EQ(server_->error, "");
  auto c = server_->Client();
  auto resp = c->Fuse(TextRequest("Person . Car .", v1::GROUNDING_SOURCE_VISIBLE));
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_GT(resp->detections_size(), 0);
  EXPECT_LE(resp->detections_size(), 64);
  EXPECT_EQ(image::Decode(resp->fused().encoded(), "fused", 1 << 20)->size(), cv::Size(64, 48));
  EXPECT_GT(resp->timings().grounding_seconds(), 0);
  v1::FuseRequest boxes = SceneRequest(3, 64, 48);
  boxes.mutable_options()->add_return_masks(v1::MASK_KIND_PROMPT);
  for (const auto& d : resp->detections()) {
    EXPECT_GT(d.score(), 0.05f);
    EXPECT_LT(d.box().x0(), d.box().x1());
    EXPECT_EQ(d.source(), v1::GROUNDING_SOURCE_VISIBLE);
    // Phrases hold only the caption's words (lower-cased, no ".").
    std::string rest = d.phrase();
    for (const std::string word : {"person", "car"})
      for (size_t at; (at = rest.find(word)) != std::string::npos;) rest.erase(at, word.size());
    EXPECT_EQ(rest.find_first_not_of(' '), std::string::npos) << d.phrase();
    *boxes.mutable_prompt()->mutable_boxes()->add_boxes() = d.box();
  }
  const cv::Mat text_mask = PromptMask(*resp);
  ASSERT_FALSE(text_mask.empty());
  auto by_boxes = c->Fuse(boxes);
  ASSERT_TRUE(by_boxes.ok()) << by_boxes.status();
  EXPECT_EQ(cv::countNonZero(text_mask != PromptMask(*by_boxes)), 0);
  EXPECT_GT(cv::countNonZero(text_mask), 0);
  // Same request, same answer.
  auto again = c->Fuse(TextRequest("Person . Car .", v1::GROUNDING_SOURCE_VISIBLE));
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->detections_size(), resp->detections_size());
  for (int i = 0; i < resp->detections_size(); ++i) {
    EXPECT_EQ(again->detections(i).box().x0(), resp->detections(i).box().x0());
    EXPECT_EQ(again->detections(i).phrase(), resp->detections(i).phrase());
  }
}

double Iou(const v1::Box& a, const v1::Box& b) {
  const double w = std::max(0.f, std::min(a.x1(), b.x1()) - std::max(a.x0(), b.x0()));
  const double h = std::max(0.f, std::min(a.y1(), b.y1()) - std::max(a.y0(), b.y0()));
  const double area = (a.x1() - a.x0()) * (a.y1() - a.y0()) + (b.x1() - b.x0()) * (b.y1() - b.y0());
  return w * h / (area - w * h);
}

TEST_F(TextPromptTest, OptionalNmsKeepsNoTwoBoxesOverlappingMoreThanItsIou) {
  auto c = server_->Client();
  auto plain = c->Fuse(TextRequest("person . car .", v1::GROUNDING_SOURCE_VISIBLE));
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto req = TextRequest("person . car .", v1::GROUNDING_SOURCE_VISIBLE);
  req.mutable_prompt()->mutable_text()->set_nms_iou(0.5f);
  auto nms = c->Fuse(req);
  ASSERT_TRUE(nms.ok()) << nms.status();
  int overlapping = 0;  // pairs NMS must remove
  for (int i = 0; i < plain->detections_size(); ++i)
    for (int j = i + 1; j < plain->detections_size(); ++j)
      overlapping += Iou(plain->detections(i).box(), plain->detections(j).box()) > 0.5;
  ASSERT_GT(overlapping, 0) << "no overlapping boxes: the case shows nothing";
  EXPECT_LT(nms->detections_size(), plain->detections_size());
  EXPECT_GT(nms->detections_size(), 0);
  for (int i = 0; i < nms->detections_size(); ++i)
    for (int j = i + 1; j < nms->detections_size(); ++j)
      EXPECT_LE(Iou(nms->detections(i).box(), nms->detections(j).box()), 0.5);
}

TEST_F(TextPromptTest, EachImageSourceAndTheirUnion) {
  auto c = server_->Client();
  std::map<int, v1::FuseResponse> by;
  for (auto source : {v1::GROUNDING_SOURCE_VISIBLE, v1::GROUNDING_SOURCE_INFRARED, v1::GROUNDING_SOURCE_BOTH}) {
    auto resp = c->Fuse(TextRequest("a red van .", source));
    ASSERT_TRUE(resp.ok()) << source << ": " << resp.status();
    by[source] = *resp;
  }
  const auto& both = by[v1::GROUNDING_SOURCE_BOTH];
  EXPECT_EQ(both.detections_size(),
            by[v1::GROUNDING_SOURCE_VISIBLE].detections_size() + by[v1::GROUNDING_SOURCE_INFRARED].detections_size());
  for (const auto& d : by[v1::GROUNDING_SOURCE_INFRARED].detections())
    EXPECT_EQ(d.source(), v1::GROUNDING_SOURCE_INFRARED);
  // The union of the two masks.
  cv::Mat uni;
  cv::bitwise_or(PromptMask(by[v1::GROUNDING_SOURCE_VISIBLE]), PromptMask(by[v1::GROUNDING_SOURCE_INFRARED]), uni);
  EXPECT_EQ(cv::countNonZero(uni != PromptMask(both)), 0);
}

TEST_F(TextPromptTest, BadCaptionsAndThresholdsAreRefusedNamingTheField) {
  auto c = server_->Client();
  struct Bad {
    std::string caption;
    float box = 0.05f, text = 0.05f;
    int source = 0;
    std::string message;
    float nms = 0;
  };
  const Bad bad[] = {{"", 0.05f, 0.05f, 0, "prompt.text.text: is empty"},
                     {" \t ", 0.05f, 0.05f, 0, "prompt.text.text: is empty"},
                     {"car \xC3\x28", 0.05f, 0.05f, 0, "prompt.text.text: invalid UTF-8"},  // gRPC's own check
                     {". ? .", 0.05f, 0.05f, 0, "prompt.text.text: holds no word"},
                     {"car .", 1.5f, 0.05f, 0, "prompt.text.box_threshold: 1.5 is not in (0, 1)"},
                     {"car .", 0.05f, -0.1f, 0, "prompt.text.text_threshold: -0.1 is not in (0, 1)"},
                     {"car .", 0.05f, 0.05f, 9, "prompt.text.source: unknown value 9"},
                     {"car .", 0.05f, 0.05f, 0, "prompt.text.nms_iou: 1.5 is not in [0, 1)", 1.5f}};
  for (const Bad& b : bad) {
    auto r = TextRequest(b.caption, v1::GroundingSource(b.source));
    r.mutable_prompt()->mutable_text()->set_box_threshold(b.box);
    r.mutable_prompt()->mutable_text()->set_text_threshold(b.text);
    r.mutable_prompt()->mutable_text()->set_nms_iou(b.nms);
    auto resp = c->Fuse(r);
    EXPECT_EQ(resp.status().code(), absl::StatusCode::kInvalidArgument) << b.message;
    EXPECT_EQ(resp.status().message().rfind(b.message, 0), 0u) << resp.status();
  }
  // The server still serves.
  EXPECT_TRUE(c->Fuse(TextRequest("dog .", v1::GROUNDING_SOURCE_VISIBLE)).ok());
}

TEST_F(TextPromptTest, TheCaptionsEncodingIsCachedAndCounted) {
  auto c = server_->Client();
  const auto before = server_->Scrape();
  auto first = c->Fuse(TextRequest("the bicycle .", v1::GROUNDING_SOURCE_VISIBLE));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->timings().text_cache_hit());
  // Another frame of the stream, the same caption (written differently:
  // preparation makes them one).
  auto second = c->Fuse(TextRequest("  The Bicycle.", v1::GROUNDING_SOURCE_VISIBLE));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->timings().text_cache_hit());
  const auto after = server_->Scrape();
  EXPECT_EQ(
      after.at("ctrlfuse_grounding_text_cache_hits_total") - before.at("ctrlfuse_grounding_text_cache_hits_total"), 1);
  EXPECT_EQ(
      after.at("ctrlfuse_grounding_text_cache_misses_total") - before.at("ctrlfuse_grounding_text_cache_misses_total"),
      1);
  EXPECT_EQ(
      after.at("ctrlfuse_grounding_duration_seconds_count") - before.at("ctrlfuse_grounding_duration_seconds_count"),
      2);
}

TEST_F(TextPromptTest, ModelInfoListsTextPrompts) {
  auto info = server_->Client()->GetModelInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_NE(std::find(info->prompt_kinds().begin(), info->prompt_kinds().end(), "text"), info->prompt_kinds().end());
  EXPECT_EQ(info->grounding_config(), "tiny");
}

// The engine's batching: concurrent Detect calls join one network call
// (the leader waits until max_batch have joined: the window is only a cap,
// so the test does not depend on timing), and each result equals the
// image's own, alone, to fp32 rounding.
TEST(GroundingEngineTest, ConcurrentDetectsRunAsOneBatchWithTheDetectionsEachGetsAlone) {
  const std::string vocab = WriteVocab();
  api::GroundingOptions o;
  o.config = "tiny";
  o.vocab = vocab;
  o.seed = 1;
  o.max_batch = 1;
  auto alone = api::GroundingEngine::Create(o);
  ASSERT_TRUE(alone.ok()) << alone.status();
  o.max_batch = 3;
  o.batch_window_ms = 600000;
  auto batched = api::GroundingEngine::Create(o);
  ASSERT_TRUE(batched.ok()) << batched.status();
  std::vector<api::ImageData> images;
  for (uint64_t seed : {4, 5, 6}) {
    image::SceneOptions s;
    s.seed = seed;
    s.width = 64;
    s.height = 48;
    images.push_back(image::ToImageData(image::GenerateScene(s).visible));
  }
  const std::vector<std::string> captions = {"person .", "a red van . dog .", "the bicycle ."};
  auto query = [&](size_t i) {
    api::GroundingQuery q;
    q.caption = captions[i];
    q.box_threshold = 0.05f;
    q.text_threshold = 0.05f;
    return q;
  };
  std::vector<absl::StatusOr<api::GroundingResult>> got(3, absl::InternalError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 3; ++i) threads.emplace_back([&, i] { got[i] = (*batched)->Detect(images[i], query(i)); });
  for (auto& t : threads) t.join();
  const auto stats = (*batched)->batch_stats();
  EXPECT_EQ(stats.calls, 1u);
  EXPECT_EQ(stats.images, 3u);
  EXPECT_EQ(stats.largest, 3u);
  int total = 0;
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(captions[i]);
    ASSERT_TRUE(got[i].ok()) << got[i].status();
    auto want = (*alone)->Detect(images[i], query(i));
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ(got[i]->detections.size(), want->detections.size());
    for (size_t k = 0; k < want->detections.size(); ++k) {
      EXPECT_NEAR(got[i]->detections[k].score, want->detections[k].score, 1e-4);
      EXPECT_NEAR(got[i]->detections[k].x0, want->detections[k].x0, 1e-2);
      EXPECT_NEAR(got[i]->detections[k].y1, want->detections[k].y1, 1e-2);
      EXPECT_EQ(got[i]->detections[k].phrase, want->detections[k].phrase);
    }
    total += int(want->detections.size());
  }
  EXPECT_GT(total, 0);
  // A bad caption among concurrent calls is refused alone and never joins:
  // the two good ones still form their batch of two.
  o.max_batch = 2;
  auto pair_engine = api::GroundingEngine::Create(o);
  ASSERT_TRUE(pair_engine.ok()) << pair_engine.status();
  std::vector<absl::StatusOr<api::GroundingResult>> mixed_calls(3, absl::InternalError("not run"));
  std::vector<std::thread> callers;
  for (size_t i = 0; i < 3; ++i) {
    callers.emplace_back([&, i] {
      api::GroundingQuery q = query(i);
      if (i == 1) q.caption = ". ? .";
      mixed_calls[i] = (*pair_engine)->Detect(images[i], q);
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_TRUE(mixed_calls[0].ok()) << mixed_calls[0].status();
  EXPECT_EQ(mixed_calls[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(mixed_calls[2].ok()) << mixed_calls[2].status();
  EXPECT_EQ((*pair_engine)->batch_stats().calls, 1u);
  EXPECT_EQ((*pair_engine)->batch_stats().largest, 2u);
  // Two model-input sizes: two network calls in one DetectBatch.
  image::SceneOptions wide;
  wide.width = 96;
  wide.height = 48;
  const api::ImageData other = image::ToImageData(image::GenerateScene(wide).visible);
  auto mixed = (*alone)->DetectBatch({&images[0], &other, &images[1]}, {query(0), query(1), query(1)});
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ((*alone)->batch_stats().calls, 3u + 2u);  // three Detects alone, then the two sizes
  std::filesystem::remove(vocab);
}

}  // namespace
}  // namespace ctrlfuse
