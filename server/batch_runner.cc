#include "server/batch_runner.h"

#include "server/fuse_task.h"

namespace ctrlfuse::server {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void BatchRunner::Run(Batch& batch) const {
  const SteadyTime start = clock_->Now();
  std::vector<FuseTask*> tasks;
  for (auto& t : batch.tasks) tasks.push_back(static_cast<FuseTask*>(t.get()));
  std::vector<std::shared_ptr<const api::EncodedPair>> encodings(tasks.size());
  std::vector<bool> hit(tasks.size(), false);
  std::vector<api::EncodeInput> misses;
  std::vector<size_t> miss_index;  // the task each miss encodes for
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (cache_) encodings[i] = cache_->Get(tasks[i]->key);
    hit[i] = encodings[i] != nullptr;
    if (hit[i]) continue;
    // Two requests for the same pair in one batch encode once.
    bool dup = false;
    for (size_t k : miss_index) dup = dup || tasks[k]->key == tasks[i]->key;
    if (!dup) {
      misses.push_back({&tasks[i]->ir, &tasks[i]->vis, tasks[i]->preprocess});
      miss_index.push_back(i);
    }
  }
  absl::Status status;
  if (!misses.empty()) {
    auto enc = engine_->Encode(misses);
    if (!enc.ok()) {
      status = enc.status();
    } else {
      for (size_t k = 0; k < miss_index.size(); ++k) {
        encodings[miss_index[k]] = (*enc)[k];
        if (cache_) cache_->Put(tasks[miss_index[k]]->key, (*enc)[k]);
      }
      for (size_t i = 0; i < tasks.size(); ++i)
        if (!encodings[i])
          for (size_t k : miss_index)
            if (tasks[k]->key == tasks[i]->key) encodings[i] = encodings[k];
    }
  }
  std::vector<api::FusedImage> images;
  if (status.ok()) {
    std::vector<api::DecodeRequest> decode;
    for (size_t i = 0; i < tasks.size(); ++i)
      decode.push_back({encodings[i], std::move(tasks[i]->mask), tasks[i]->outputs});
    auto out = engine_->Decode(decode);
    if (out.ok()) images = std::move(*out);
    status = out.status();
  }
  const double compute = Seconds(clock_->Now() - start);
  metrics_->compute_seconds->Observe(compute);
  metrics_->batch_size->Observe(double(tasks.size()));
  for (size_t i = 0; i < tasks.size(); ++i) {
    TaskResult r;
    r.status = status;
    if (status.ok()) r.image = std::move(images[i]);
    r.compute_seconds = compute;
    r.queue_seconds = Seconds(start - tasks[i]->enqueued);
    r.batch_size = int(tasks.size());
    r.cache_hit = hit[i];
    metrics_->queue_seconds->Observe(r.queue_seconds);
    tasks[i]->promise.set_value(std::move(r));
  }
}

}  // namespace ctrlfuse::server
