#include "server/decode_slots.h"

#include <algorithm>

namespace ctrlfuse::server {

DecodeSlots::Slot::~Slot() {
  if (owner_) owner_->Release();
}

DecodeSlots::DecodeSlots(size_t slots, Clock* clock) : slots_(std::max<size_t>(1, slots)), clock_(clock) {}

absl::StatusOr<DecodeSlots::Slot> DecodeSlots::Acquire(SteadyTime deadline, const std::function<bool()>& cancelled,
                                                       Duration poll) {
  absl::MutexLock lock(&mu_);
  const auto free = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return in_use_ < slots_; };
  ++waiting_;
  while (!free()) {
    const SteadyTime now = clock_->Now();
    if (absl::Status give_up = GiveUpReason(deadline, cancelled, now, "while waiting to decode"); !give_up.ok()) {
      --waiting_;
      return give_up;
    }
    const SteadyTime wake = deadline - now < poll ? deadline : now + poll;
    clock_->WaitUntil(&mu_, absl::Condition(&free), wake);
  }
  --waiting_;
  ++in_use_;
  return Slot(this);
}

void DecodeSlots::Release() {
  absl::MutexLock lock(&mu_);
  --in_use_;
}

size_t DecodeSlots::in_use() const {
  absl::MutexLock lock(&mu_);
  return in_use_;
}

size_t DecodeSlots::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace ctrlfuse::server
