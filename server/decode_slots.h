// A bound on how many requests decode their images at once. Decoding runs
// on the handler's thread before the queue, and each decode holds up to
// two images of --max_pixels (plus the codec's buffers) for its length, so
// without a bound memory grows with the number of concurrent clients (four
// 1 GiB TIFF decodes at once were 4.1 GiB). A request waits for a slot
// until its deadline or its client goes away.
//
// Thread-safety: Acquire may be called from any thread; a Slot is released
// by its owner (the destructor). Ownership: `clock` is borrowed and must
// outlive the slots; a Slot must not outlive its DecodeSlots.
#pragma once

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/batching/clock.h"
#include "server/batching/task.h"

namespace ctrlfuse::server {

class DecodeSlots {
 public:
  // Held while decoding; frees its slot when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    friend class DecodeSlots;
    explicit Slot(DecodeSlots* owner) : owner_(owner) {}
    DecodeSlots* owner_;
  };

  // `slots` >= 1.
  DecodeSlots(size_t slots, Clock* clock);

  // Waits for a free slot. DEADLINE_EXCEEDED once `deadline` (the clock's
  // time) passes, CANCELLED once `cancelled()` is true (polled every
  // `poll` while waiting), whichever comes first.
  absl::StatusOr<Slot> Acquire(SteadyTime deadline, const std::function<bool()>& cancelled,
                               Duration poll = std::chrono::milliseconds(100)) ABSL_LOCKS_EXCLUDED(mu_);

  size_t in_use() const ABSL_LOCKS_EXCLUDED(mu_);
  // Requests waiting for a slot now.
  size_t waiting() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t capacity() const { return slots_; }

 private:
  void Release() ABSL_LOCKS_EXCLUDED(mu_);

  const size_t slots_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  size_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ctrlfuse::server
