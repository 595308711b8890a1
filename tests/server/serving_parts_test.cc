// The serving core's tables and contracts, without a server: the prompt-kind
// registry covers the proto's oneof, failures are labelled from the status
// code (every code, not a hand-kept list), the wanted outputs follow the
// request, and out-of-range options are refused with the option's name.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "proto/kinds.h"
#include "server/fusion_pipeline.h"
#include "server/metrics.h"
#include "server/prompts/prompt_kind.h"
#include "server/response_builder.h"
#include "server/warmup.h"
#include "tests/server/test_net.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_fusion_engine.h"

namespace ctrlfuse::server {
namespace {

TEST(PromptRegistryTest, EveryOneofCaseHasExactlyOneKind) {
  const auto* oneof = v1::Prompt::descriptor()->FindOneofByName("kind");
  ASSERT_NE(oneof, nullptr);
  std::multiset<int> registered;
  for (const auto& k : PromptKinds()) registered.insert(int(k.kind_case));
  ASSERT_EQ(registered.size(), size_t(oneof->field_count()));
  for (int i = 0; i < oneof->field_count(); ++i)
    EXPECT_EQ(registered.count(oneof->field(i)->number()), 1u) << oneof->field(i)->name();
  EXPECT_EQ(ServedPromptKindNames(false), (std::vector<std::string>{"mask", "rle_mask", "boxes", "points", "none"}));
  EXPECT_EQ(ServedPromptKindNames(true),
            (std::vector<std::string>{"mask", "rle_mask", "boxes", "points", "text", "none"}));
}

TEST(PromptRegistryTest, ParsesThroughTheKindsParserAndNamesTheField) {
  PromptContext c{cv::Size(64, 48), 1 << 20};
  v1::Prompt empty;
  EXPECT_EQ(ParsePrompt(empty, c).status().message().rfind("prompt: empty prompt", 0), 0u);
  v1::Prompt text;
  text.mutable_text()->set_text("person .");
  // Without a grounding model: UNIMPLEMENTED, naming the flags that enable it.
  EXPECT_EQ(ParsePrompt(text, c).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(ParsePrompt(text, c).status().message().find("--grounding_checkpoint"), std::string::npos);
  v1::Prompt boxes;
  auto* b = boxes.mutable_boxes()->add_boxes();
  b->set_x0(8), b->set_y0(8), b->set_x1(24), b->set_y1(20);
  auto parsed = ParsePrompt(boxes, c);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  // A box prompt resolves through the engine's SegmentVisible (here the
  // test double's: the box filled).
  testing::FakeFusionEngine engine;
  api::ImageData vis;
  vis.width = 64, vis.height = 48;
  vis.bytes.assign(64 * 48, 100);
  auto resolved = (*parsed)->Resolve({&engine, nullptr}, vis, cv::Mat());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->mask.size(), cv::Size(64, 48));
  EXPECT_EQ(cv::countNonZero(resolved->mask), 16 * 12);
  EXPECT_TRUE(resolved->detections.empty());
  b->set_x1(4);  // x1 < x0
  EXPECT_EQ(ParsePrompt(boxes, c).status().message().rfind("prompt.boxes[0]", 0), 0u);
}

TEST(RequestParserTest, MetricsAreCheckedInAnyOrderAndComputedOnce) {
  const std::vector<std::string> known = {"EN", "SD", "Qabf"};
  v1::FuseRequest r = testing::SceneRequest(1);
  for (int i = 0; i < 10000; ++i) r.mutable_options()->add_metrics(i % 2 ? "EN" : "Qabf");
  auto p = ParseRequest(r, ParseLimits{}, known);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->output.metrics, (std::vector<std::string>{"Qabf", "EN"}));  // first-named order
  for (const auto& order : std::vector<std::vector<std::string>>{{"all", "FOO"}, {"FOO", "all"}}) {
    r.mutable_options()->clear_metrics();
    for (const auto& m : order) r.mutable_options()->add_metrics(m);
    auto bad = ParseRequest(r, ParseLimits{}, known);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << order[0];
    EXPECT_EQ(bad.status().message().rfind("options.metrics: unknown metric 'FOO'", 0), 0u) << bad.status();
  }
  r.mutable_options()->clear_metrics();
  for (const char* m : {"SD", "all", "SD"}) r.mutable_options()->add_metrics(m);
  auto all = ParseRequest(r, ParseLimits{}, known);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->output.metrics, known);
}

// What the registry exports for `name` with `labels` (as the text format
// prints them), or -1 when there is no such series.
double Series(Metrics& m, const std::string& name, const std::map<std::string, std::string>& labels) {
  for (const auto& family : m.registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      std::map<std::string, std::string> got;
      for (const auto& l : metric.label) got[l.name] = l.value;
      if (got == labels)
        return family.type == prometheus::MetricType::Histogram ? double(metric.histogram.sample_count)
                                                                : metric.counter.value;
    }
  }
  return -1;
}

TEST(MetricsTest, CallsAreCountedOnceWithTheirCodeAndReason) {
  Metrics m;
  m.CountCall("Fuse", absl::OkStatus());
  m.CountCall("Fuse", absl::NotFoundError("x"));
  m.CountCall("Fuse", absl::AbortedError("x"));
  m.CountCall("FuseStream", absl::UnavailableError("queue full"));
  m.CountCall("Fuse", absl::InvalidArgumentError("x"));
  EXPECT_EQ(Series(m, "ctrlfuse_requests_total", {{"method", "Fuse"}, {"code", "OK"}}), 1);
  EXPECT_EQ(Series(m, "ctrlfuse_requests_total", {{"method", "Fuse"}, {"code", "NOT_FOUND"}}), 1);
  EXPECT_EQ(Series(m, "ctrlfuse_requests_total", {{"method", "Fuse"}, {"code", "ABORTED"}}), 1);
  EXPECT_EQ(Series(m, "ctrlfuse_requests_total", {{"method", "FuseStream"}, {"code", "UNAVAILABLE"}}), 1);
  EXPECT_EQ(Series(m, "ctrlfuse_failures_total", {{"reason", "other"}}), 2);
  EXPECT_EQ(Series(m, "ctrlfuse_failures_total", {{"reason", "rejected"}}), 1);
  EXPECT_EQ(Series(m, "ctrlfuse_failures_total", {{"reason", "invalid"}}), 1);
  EXPECT_EQ(std::string(FailureReason(absl::StatusCode::kDeadlineExceeded)), "deadline");
  EXPECT_EQ(std::string(FailureReason(absl::StatusCode::kCancelled)), "cancelled");
  EXPECT_EQ(std::string(FailureReason(absl::StatusCode::kInternal)), "internal");
  EXPECT_EQ(std::string(FailureReason(absl::StatusCode::kUnimplemented)), "unimplemented");
  EXPECT_EQ(std::string(FailureReason(absl::StatusCode::kUnauthenticated)), "unauthenticated");
  // Timed calls land in the duration histogram under their method and
  // code, failures included.
  m.CountCall("Fuse", absl::OkStatus(), 0.25);
  m.CountCall("Fuse", absl::InvalidArgumentError("x"), 0.001);
  m.CountCall("ModelInfer", absl::DeadlineExceededError("x"), 5);
  EXPECT_EQ(Series(m, "ctrlfuse_request_duration_seconds", {{"method", "Fuse"}, {"code", "OK"}}), 1);
  EXPECT_EQ(Series(m, "ctrlfuse_request_duration_seconds", {{"method", "Fuse"}, {"code", "INVALID_ARGUMENT"}}), 1);
  EXPECT_EQ(Series(m, "ctrlfuse_request_duration_seconds", {{"method", "ModelInfer"}, {"code", "DEADLINE_EXCEEDED"}}),
            1);
  EXPECT_EQ(Series(m, "ctrlfuse_request_duration_seconds", {{"method", "FuseStream"}, {"code", "OK"}}), 0);
  EXPECT_EQ(Series(m, "ctrlfuse_requests_total", {{"method", "ModelInfer"}, {"code", "UNAVAILABLE"}}), 0);
  // Every reason's series exists from the start, at 0 until counted.
  EXPECT_EQ(Series(m, "ctrlfuse_failures_total", {{"reason", "unauthenticated"}}), 0);
  EXPECT_EQ(Series(m, "ctrlfuse_failures_total", {{"reason", "cancelled"}}), 0);
}

// Warm-up reports every step in order (the server logs one line per step:
// large models take minutes to warm up).
TEST(WarmupTest, ReportsEachBucketAtEachBatchSizeInOrder) {
  testing::FakeFusionEngine fake;  // test double: counts what it encodes
  std::vector<WarmupStep> steps;
  ASSERT_TRUE(Warmup(fake, {cv::Size(64, 48), cv::Size(32, 24)}, 3, [&](const WarmupStep& s) {
                steps.push_back(s);
                return true;
              }).ok());
  ASSERT_EQ(steps.size(), 6u);
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].index, i + 1);
    EXPECT_EQ(steps[i].total, 6u);
    EXPECT_EQ(steps[i].size, i < 3 ? cv::Size(64, 48) : cv::Size(32, 24));
    EXPECT_EQ(steps[i].batch_size, i % 3 + 1);
    EXPECT_GE(steps[i].seconds, 0);
  }
  EXPECT_TRUE(Warmup(fake, {cv::Size(16, 16)}, 2).ok());  // no callback: fine
  // A stop (the server got SIGTERM) ends it after the current step.
  size_t calls = 0;
  auto stopped = Warmup(fake, {cv::Size(64, 48), cv::Size(32, 24)}, 3, [&](const WarmupStep&) { return ++calls < 2; });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(stopped.message(), "warm-up stopped after step 2 of 6");
  EXPECT_EQ(calls, 2u);
}

TEST(ResponseBuilderTest, DecodeIsAskedOnlyForThePlanesTheRequestWants) {
  OutputOptions o;
  EXPECT_EQ(WantedOutputs(o), (std::vector<api::Output>{api::Output::kFused}));
  o.colour = true;
  o.return_masks = {v1::MASK_KIND_PROMPT, v1::MASK_KIND_INFRARED, v1::MASK_KIND_FUSED, v1::MASK_KIND_INFRARED};
  // The prompt mask is the server's own; each plane once.
  EXPECT_EQ(WantedOutputs(o), (std::vector<api::Output>{api::Output::kFused, api::Output::kFusedColour,
                                                        api::Output::kMaskInfrared, api::Output::kMask}));
  EXPECT_EQ(std::string(v1::MaskKindName(v1::MASK_KIND_VISIBLE)), "mask_vis");
  EXPECT_EQ(v1::MaskKinds().size(), size_t(v1::MaskKind_descriptor()->value_count() - 1));  // all but UNSPECIFIED
}

TEST(PipelineOptionsTest, OutOfRangeOptionsAreRefusedByName) {
  testing::FakeFusionEngine engine;
  testing::FakeClock clock;
  Metrics metrics;
  auto refused = [&](PipelineOptions o) {
    auto p = FusionPipeline::Create(&engine, o, &metrics, &clock);
    return p.ok() ? std::string("accepted") : std::string(p.status().message());
  };
  PipelineOptions o;
  EXPECT_EQ(refused(o), "accepted");
  o.batching.max_batch_size = 0;
  EXPECT_EQ(refused(o).rfind("max_batch_size:", 0), 0u);
  o = {};
  o.executors = 0;
  EXPECT_EQ(refused(o).rfind("executors:", 0), 0u);
  o = {};
  o.pad_buckets = {cv::Size(0, 10)};
  EXPECT_EQ(refused(o).rfind("pad_buckets:", 0), 0u);
}

}  // namespace
}  // namespace ctrlfuse::server
