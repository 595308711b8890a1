#include "server/batch_runner.h"

#include "absl/strings/str_cat.h"
#include "server/fuse_task.h"

namespace ctrlfuse::server {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

bool OutOfMemory(const absl::Status& s) { return s.code() == absl::StatusCode::kResourceExhausted; }

}  // namespace

void BatchRunner::Run(Batch& batch) const {
  const SteadyTime start = clock_->Now();
  std::vector<Work> work;
  for (auto& t : batch.tasks) work.push_back({static_cast<FuseTask*>(t.get()), nullptr, false});
  Compute(work, start);
  const double seconds = Seconds(clock_->Now() - start);
  metrics_->compute_seconds->Observe(seconds);
  if (costs_) costs_->Observe(batch.bucket, batch.tasks.size(), seconds);
  metrics_->batch_size->Observe(double(batch.tasks.size()));
}

void BatchRunner::Finish(Work& w, absl::Status status, api::FusedImage image, SteadyTime start,
                         size_t batch_size) const {
  TaskResult r;
  r.status = std::move(status);
  if (r.status.ok()) r.image = std::move(image);
  r.compute_seconds = Seconds(clock_->Now() - start);
  r.queue_seconds = Seconds(start - w.task->enqueued);
  r.batch_size = int(batch_size);
  r.cache_hit = w.hit;
  metrics_->queue_seconds->Observe(r.queue_seconds);
  w.task->promise.set_value(std::move(r));
}

void BatchRunner::DropGivenUp(std::vector<Work>& work, const char* when, SteadyTime start) const {
  std::vector<Work> kept;
  for (auto& w : work) {
    if (auto s = GiveUpReason(*w.task, clock_->Now(), when); !s.ok()) {
      Finish(w, s, {}, start, work.size());
    } else {
      kept.push_back(w);
    }
  }
  work.swap(kept);
}

absl::Status BatchRunner::EncodeMissing(std::vector<Work>& work) const {
  std::vector<api::EncodeInput> misses;
  std::vector<size_t> miss_index;  // the work item each miss encodes for
  for (size_t i = 0; i < work.size(); ++i) {
    if (work[i].encoding) continue;  // encoded before a split
    if (cache_) work[i].encoding = cache_->Get(work[i].task->key);
    work[i].hit = work[i].encoding != nullptr;
    if (work[i].hit) continue;
    // Two requests for the same pair in one batch encode once.
    bool dup = false;
    for (size_t k : miss_index) dup = dup || work[k].task->key == work[i].task->key;
    if (!dup) {
      misses.push_back({&work[i].task->ir, &work[i].task->vis, work[i].task->preprocess});
      miss_index.push_back(i);
    }
  }
  if (misses.empty()) return absl::OkStatus();
  auto enc = engine_->Encode(misses);
  if (!enc.ok()) return enc.status();
  for (size_t k = 0; k < miss_index.size(); ++k) {
    work[miss_index[k]].encoding = (*enc)[k];
    if (cache_) cache_->Put(work[miss_index[k]].task->key, (*enc)[k]);
  }
  for (auto& w : work)
    if (!w.encoding)
      for (size_t k : miss_index)
        if (work[k].task->key == w.task->key) w.encoding = work[k].encoding;
  return absl::OkStatus();
}

void BatchRunner::Compute(std::vector<Work>& work, SteadyTime start) const {
  // A caller gone (or out of time) by now does not get the model's time.
  DropGivenUp(work, "before compute", start);
  if (work.empty()) return;
  if (auto s = EncodeMissing(work); !s.ok()) {
    if (OutOfMemory(s) && work.size() > 1) return Split(work, start);
    for (auto& w : work) Finish(w, Alone(s), {}, start, work.size());
    return;
  }
  // Encode is most of a forward: check again before the decode.
  DropGivenUp(work, "between encode and decode", start);
  if (work.empty()) return;
  std::vector<api::DecodeRequest> decode;
  decode.reserve(work.size());
  for (auto& w : work) decode.push_back({w.encoding, w.task->mask, w.task->outputs});
  auto out = engine_->Decode(decode);
  if (!out.ok()) {
    if (OutOfMemory(out.status()) && work.size() > 1) return Split(work, start);  // encodings are kept
    for (auto& w : work) Finish(w, Alone(out.status()), {}, start, work.size());
    return;
  }
  for (size_t i = 0; i < work.size(); ++i) Finish(work[i], absl::OkStatus(), std::move((*out)[i]), start, work.size());
}

void BatchRunner::Split(std::vector<Work>& work, SteadyTime start) const {
  metrics_->batch_splits->Increment();
  const size_t half = work.size() / 2;
  std::vector<Work> first(work.begin(), work.begin() + long(half)), second(work.begin() + long(half), work.end());
  Compute(first, start);
  Compute(second, start);
}

absl::Status BatchRunner::Alone(const absl::Status& s) {
  if (!OutOfMemory(s)) return s;
  return absl::ResourceExhaustedError(absl::StrCat(
      "the request does not fit in the model's memory even alone (batch 1): ", s.message(), "; send a smaller image"));
}

}  // namespace ctrlfuse::server
