// The request pipeline: parse -> prompt -> prepare (bucket, pad) -> batch
// -> model -> response. Fuse() runs the per-request stages on the caller's
// thread and waits for the batch its request joins; executor threads run
// the batches (BatchRunner).
//
//   request_parser      FuseRequest -> ParsedRequest (images, prompt, options)
//   prompts/            ParsedPrompt::Resolve -> the mask prompt
//   task_preparer       -> FuseTask (bucket, padding, cache key)
//   batching/           the dynamic batcher
//   batch_runner        encode cache + engine Encode/Decode
//   response_builder    -> FuseResponse (crop, encode, quality)
//
// Thread-safety: Fuse may be called from any number of threads; Start and
// Stop from one. Ownership: engine, metrics and clock are borrowed and must
// outlive the pipeline; the pipeline owns the scheduler, the encode cache
// and the executor threads (joined by Stop or the destructor).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"
#include "model/api/fusion_engine.h"
#include "model/api/grounding_engine.h"
#include "server/batch_runner.h"
#include "server/batching/scheduler.h"
#include "server/cost_model.h"
#include "server/decode_slots.h"
#include "server/encode_cache.h"
#include "server/memory_model.h"
#include "server/metrics.h"
#include "server/request_parser.h"
#include "server/response_builder.h"
#include "server/task_preparer.h"
#include "server/warmup.h"

namespace ctrlfuse::server {

struct PipelineOptions {
  BatchingOptions batching;
  // Executor threads pulling batches. They share the one engine (one copy
  // of the weights; its calls are thread-safe), so more than one overlaps
  // host work (cache lookups, copies) with compute rather than adding
  // model instances.
  int executors = 1;
  int64_t cache_bytes = 256ll << 20;  // encode cache capacity (0 = off)
  // Pad-to-bucket policy: sizes (w x h) a request is padded up to (smallest
  // that fits); empty = exact-shape buckets.
  std::vector<cv::Size> pad_buckets;
  ParseLimits limits;
  // Requests decoding their images at once (server/decode_slots.h); the
  // rest wait for a slot. Bounds decoding's memory whatever clients send.
  size_t max_concurrent_decodes = 4;
  std::vector<std::string> known_metrics;
  QualityFn quality;
  // Text prompts' GroundingDINO (borrowed, outlives the pipeline; null: text
  // prompts answer UNIMPLEMENTED). limits.grounding is set from it.
  api::GroundingEngine* grounding = nullptr;

  // INVALID_ARGUMENT naming the option when one is out of range.
  absl::Status Validate() const;
};

class FusionPipeline {
 public:
  static absl::StatusOr<std::unique_ptr<FusionPipeline>> Create(api::FusionEngine* engine, PipelineOptions options,
                                                                Metrics* metrics, Clock* clock);
  ~FusionPipeline();

  void Start();
  // Stops admission, lets executors finish what is queued, joins them.
  void Stop();

  // Runs every bucket (pad buckets, else `sizes`) at every batch size once.
  absl::Status Warmup(const std::vector<cv::Size>& sizes, const WarmupProgress& progress = nullptr);

  // One request, end to end. `deadline` is in the pipeline clock's time;
  // `cancelled` is polled while the request waits for a decode slot and in
  // the queue. A full queue refuses the request before it decodes; one that
  // the model cannot finish before its deadline even alone (CostModel) gets
  // DEADLINE_EXCEEDED, one a CPU engine cannot hold in memory alone
  // (MemoryModel) RESOURCE_EXHAUSTED, before it queues.
  absl::StatusOr<v1::FuseResponse> Fuse(const v1::FuseRequest& request, SteadyTime deadline,
                                        std::function<bool()> cancelled);

  const PipelineOptions& options() const { return options_; }
  // Null when the cache is off.
  const EncodeCache* cache() const { return cache_.get(); }
  BatchScheduler& scheduler() { return *scheduler_; }
  const DecodeSlots& decode_slots() const { return decode_slots_; }
  const CostModel& costs() const { return costs_; }
  const MemoryModel& memory() const { return memory_; }
  Clock* clock() const { return clock_; }

 private:
  FusionPipeline(api::FusionEngine* engine, PipelineOptions options, Metrics* metrics, Clock* clock,
                 std::unique_ptr<BatchScheduler> scheduler);
  void ExecutorLoop();
  // Waits for the task's result, withdrawing it from the queue if its
  // deadline passes or its client goes away first.
  TaskResult Await(const std::shared_ptr<FuseTask>& task, std::future<TaskResult>& future);

  api::FusionEngine* const engine_;
  const PipelineOptions options_;
  Metrics* const metrics_;
  Clock* const clock_;
  const std::unique_ptr<BatchScheduler> scheduler_;
  const std::unique_ptr<EncodeCache> cache_;
  DecodeSlots decode_slots_;
  CostModel costs_;     // before runner_, which feeds it
  MemoryModel memory_;  // learnt at warm-up, CPU engines only
  const TaskPreparer preparer_;
  const BatchRunner runner_;
  const ResponseBuilder responses_;
  std::vector<std::thread> executors_;
  std::atomic<bool> started_{false};
};

}  // namespace ctrlfuse::server
