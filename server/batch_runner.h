// Runs one closed batch on the engine: encode-cache lookups, one batched
// Encode of the misses (a pair that appears twice encodes once), one
// batched Decode, then fulfils every task's promise.
//
// Between the stages (before the encode, and between encode and decode)
// tasks whose caller went away or whose deadline passed are failed instead
// of computed. When the engine runs out of memory (RESOURCE_EXHAUSTED: a
// CUDA OOM or a failed CPU allocation) the batch is split in halves and
// each half retried, recursively, keeping what was encoded; only a request
// that fails alone gets RESOURCE_EXHAUSTED, saying so.
//
// Thread-safety: Run may be called from several executor threads at once
// (the engine and the cache are thread-safe). Ownership: engine, cache (may
// be null: no cache), metrics, clock and costs are borrowed and must outlive it.
#pragma once

#include "model/api/fusion_engine.h"
#include "server/batching/batch.h"
#include "server/batching/clock.h"
#include "server/cost_model.h"
#include "server/encode_cache.h"
#include "server/metrics.h"

#include <memory>
#include <vector>

namespace ctrlfuse::server {

class FuseTask;

class BatchRunner {
 public:
  // `costs` (may be null) learns from every batch's compute time.
  BatchRunner(api::FusionEngine* engine, EncodeCache* cache, Metrics* metrics, Clock* clock, CostModel* costs = nullptr)
      : engine_(engine), cache_(cache), metrics_(metrics), clock_(clock), costs_(costs) {}

  // `batch` holds FuseTasks of one bucket.
  void Run(Batch& batch) const;

 private:
  // One task on its way through the stages.
  struct Work {
    FuseTask* task;
    std::shared_ptr<const api::EncodedPair> encoding;  // set once encoded (or a cache hit)
    bool hit;
  };
  void Compute(std::vector<Work>& work, SteadyTime start) const;
  void Split(std::vector<Work>& work, SteadyTime start) const;
  absl::Status EncodeMissing(std::vector<Work>& work) const;
  void DropGivenUp(std::vector<Work>& work, const char* when, SteadyTime start) const;
  void Finish(Work& w, absl::Status status, api::FusedImage image, SteadyTime start, size_t batch_size) const;
  // An out-of-memory of a single request, said as such.
  static absl::Status Alone(const absl::Status& s);

  api::FusionEngine* const engine_;
  EncodeCache* const cache_;
  Metrics* const metrics_;
  Clock* const clock_;
  CostModel* const costs_;
};

}  // namespace ctrlfuse::server
