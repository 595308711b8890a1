// Runs one closed batch on the engine: encode-cache lookups, one batched
// Encode of the misses (a pair that appears twice encodes once), one
// batched Decode, then fulfils every task's promise.
//
// Thread-safety: Run may be called from several executor threads at once
// (the engine and the cache are thread-safe). Ownership: engine, cache (may
// be null: no cache), metrics and clock are borrowed and must outlive it.
#pragma once

#include "model/api/fusion_engine.h"
#include "server/batching/batch.h"
#include "server/batching/clock.h"
#include "server/encode_cache.h"
#include "server/metrics.h"

namespace ctrlfuse::server {

class BatchRunner {
 public:
  BatchRunner(api::FusionEngine* engine, EncodeCache* cache, Metrics* metrics, Clock* clock)
      : engine_(engine), cache_(cache), metrics_(metrics), clock_(clock) {}

  // `batch` holds FuseTasks of one bucket.
  void Run(Batch& batch) const;

 private:
  api::FusionEngine* const engine_;
  EncodeCache* const cache_;
  Metrics* const metrics_;
  Clock* const clock_;
};

}  // namespace ctrlfuse::server
