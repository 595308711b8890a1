#include "server/fusion_pipeline.h"

#include "absl/strings/str_cat.h"
#include "image/image_data.h"
#include "server/process_metrics.h"
#include "server/warmup.h"

namespace ctrlfuse::server {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// How often a queued request's handler looks at its deadline and its
// client: a request that is given up on leaves the queue within this (the
// executors also drop such requests whenever they form a batch). Every
// queued request wakes at this rate; 100 ms keeps that to 10 wake-ups a
// second per request, which did not show in bench/compare_servers.sh.
constexpr auto kWithdrawPoll = std::chrono::milliseconds(100);

}  // namespace

absl::Status PipelineOptions::Validate() const {
  if (auto s = batching.Validate(); !s.ok()) return s;
  if (executors < 1) return absl::InvalidArgumentError("executors: must be at least 1");
  if (cache_bytes < 0) return absl::InvalidArgumentError("cache_bytes: must not be negative");
  if (max_concurrent_decodes < 1) return absl::InvalidArgumentError("max_concurrent_decodes: must be at least 1");
  for (const auto& b : pad_buckets)
    if (b.width <= 0 || b.height <= 0)
      return absl::InvalidArgumentError(absl::StrCat("pad_buckets: ", b.width, "x", b.height, " is not a size"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FusionPipeline>> FusionPipeline::Create(api::FusionEngine* engine,
                                                                       PipelineOptions options, Metrics* metrics,
                                                                       Clock* clock) {
  if (auto s = options.Validate(); !s.ok()) return s;
  options.limits.grounding = options.grounding;
  if (!engine || !metrics || !clock)
    return absl::InvalidArgumentError("FusionPipeline: missing engine, metrics or clock");
  auto scheduler = BatchScheduler::Create(options.batching, clock);
  if (!scheduler.ok()) return scheduler.status();
  return std::unique_ptr<FusionPipeline>(
      new FusionPipeline(engine, std::move(options), metrics, clock, std::move(*scheduler)));
}

FusionPipeline::FusionPipeline(api::FusionEngine* engine, PipelineOptions options, Metrics* metrics, Clock* clock,
                               std::unique_ptr<BatchScheduler> scheduler)
    : engine_(engine),
      options_(std::move(options)),
      metrics_(metrics),
      clock_(clock),
      scheduler_(std::move(scheduler)),
      cache_(options_.cache_bytes > 0 ? std::make_unique<EncodeCache>(options_.cache_bytes) : nullptr),
      decode_slots_(options_.max_concurrent_decodes, clock),
      preparer_(options_.pad_buckets),
      runner_(engine, cache_.get(), metrics, clock, &costs_),
      responses_(options_.quality, metrics) {}

FusionPipeline::~FusionPipeline() { Stop(); }

void FusionPipeline::Start() {
  if (started_.exchange(true)) return;
  for (int i = 0; i < options_.executors; ++i) executors_.emplace_back([this] { ExecutorLoop(); });
}

void FusionPipeline::Stop() {
  scheduler_->Shutdown();
  for (auto& t : executors_)
    if (t.joinable()) t.join();
  executors_.clear();
}

void FusionPipeline::ExecutorLoop() {
  while (auto batch = scheduler_->NextBatch()) runner_.Run(*batch);
}

absl::Status FusionPipeline::Warmup(const std::vector<cv::Size>& sizes, const WarmupProgress& progress) {
  // The warm-up's timings and peak memory are the cost and memory models'
  // first observations, but for each size's first step (one-off allocations
  // and kernel choices: it would overestimate, and refuse requests that
  // would have made it) unless it is the only one.
  const bool on_cpu = engine_->info().device == "cpu";
  if (on_cpu) memory_.StartWarmup(ResidentBytes(), MemoryLimitBytes());
  const bool single = options_.batching.max_batch_size == 1;
  auto observe = [this, &progress, on_cpu, single](const WarmupStep& step) {
    const BucketKey bucket{step.size.width, step.size.height};
    if (step.batch_size > 1 || single) {
      costs_.Observe(bucket, step.batch_size, step.seconds);
      if (on_cpu) memory_.ObserveStep(bucket, step.batch_size, PeakResidentBytes());
    }
    return progress ? progress(step) : true;
  };
  return server::Warmup(*engine_, options_.pad_buckets.empty() ? sizes : options_.pad_buckets,
                        options_.batching.max_batch_size, observe);
}

TaskResult FusionPipeline::Await(const std::shared_ptr<FuseTask>& task, std::future<TaskResult>& future) {
  while (future.wait_for(kWithdrawPoll) != std::future_status::ready) {
    absl::Status give_up = GiveUpReason(*task, clock_->Now(), "while queued");
    if (give_up.ok()) continue;
    // Not withdrawn: a batch has it, and its result is coming.
    if (!scheduler_->Withdraw(task, give_up)) break;
  }
  return future.get();
}

absl::StatusOr<v1::FuseResponse> FusionPipeline::Fuse(const v1::FuseRequest& request, SteadyTime deadline,
                                                      std::function<bool()> cancelled) {
  const SteadyTime t0 = clock_->Now();
  // Decoding is the costliest step before the queue: a request the queue
  // cannot take is refused first (Schedule still has the last word).
  if (auto room = scheduler_->CheckRoom(); !room.ok()) return room;
  absl::StatusOr<ParsedRequest> parsed;
  {
    auto slot = decode_slots_.Acquire(deadline, cancelled);
    if (!slot.ok()) return slot.status();
    parsed = ParseRequest(request, options_.limits, options_.known_metrics);
  }
  if (!parsed.ok()) return parsed.status();
  const ParsedRequest& p = *parsed;
  const SteadyTime t_decoded = clock_->Now();
  metrics_->decode_seconds->Observe(Seconds(t_decoded - t0));

  api::ImageData visible = image::ToImageData(p.visible);
  auto prompt = p.prompt->Resolve({engine_, options_.grounding}, visible, p.infrared);
  if (!prompt.ok()) return prompt.status();
  if (prompt->grounding_seconds > 0) {
    metrics_->grounding_seconds->Observe(prompt->grounding_seconds);
    (prompt->text_cache_hit ? metrics_->text_cache_hits : metrics_->text_cache_misses)->Increment();
  }
  const cv::Mat& mask = prompt->mask;
  const SteadyTime t_prompted = clock_->Now();
  PreparedTask prepared = preparer_.Prepare(p.infrared, p.visible, std::move(visible), mask,
                                            api::PreprocessOptions{p.ir_normalization}, WantedOutputs(p.output));
  auto task = prepared.task;
  task->deadline = deadline;
  task->cancelled = std::move(cancelled);
  if (prepared.padding_ratio > 0) metrics_->padding_ratio->Observe(prepared.padding_ratio);
  const SteadyTime t_prepared = clock_->Now();
  metrics_->preprocess_seconds->Observe(Seconds(t_prepared - t_decoded));

  // A request given up on already (slow prompt, slow client) never queues;
  // nor does one the model cannot finish in time even alone.
  const SteadyTime now = clock_->Now();
  if (auto s = GiveUpReason(*task, now, "before the request queued"); !s.ok()) return s;
  if (const double need = costs_.EstimateSeconds(task->bucket);
      deadline != SteadyTime::max() && need > Seconds(deadline - now))
    return absl::DeadlineExceededError(
        absl::StrCat("cannot finish before the deadline: the model needs about ", absl::SixDigits(need), " s for ",
                     task->bucket.ToString(), " on this server and the deadline is in ",
                     absl::SixDigits(Seconds(deadline - now)), " s; allow more time or send a smaller image"));
  auto future = task->promise.get_future();
  if (auto s = scheduler_->Schedule(task); !s.ok()) return s;
  TaskResult r = Await(task, future);
  if (!r.status.ok()) return r.status;

  const SteadyTime t_computed = clock_->Now();
  auto resp = responses_.Build(p, mask, r.image);
  if (!resp.ok()) return resp.status();
  resp->set_id(request.id());
  for (auto& d : prompt->detections) *resp->add_detections() = std::move(d);
  const SteadyTime t_done = clock_->Now();
  metrics_->encode_seconds->Observe(Seconds(t_done - t_computed));
  metrics_->images_fused->Increment();
  auto* t = resp->mutable_timings();
  t->set_queue_seconds(r.queue_seconds);
  t->set_decode_seconds(Seconds(t_decoded - t0));
  t->set_prompt_seconds(Seconds(t_prompted - t_decoded));
  t->set_compute_seconds(r.compute_seconds);
  t->set_encode_seconds(Seconds(t_done - t_computed));
  t->set_total_seconds(Seconds(t_done - t0));
  t->set_batch_size(uint32_t(r.batch_size));
  t->set_cache_hit(r.cache_hit);
  t->set_grounding_seconds(prompt->grounding_seconds);
  t->set_text_cache_hit(prompt->text_cache_hit);
  return resp;
}

}  // namespace ctrlfuse::server
