// The CPU memory model (server/memory_model.h) on given numbers: only steps
// that raised the peak teach it, the lowest per-pixel need wins, and a
// request that alone needs more than the limit minus the baseline is
// refused with RESOURCE_EXHAUSTED saying how much it needs and has.
#include "server/memory_model.h"

#include <gtest/gtest.h>

namespace ctrlfuse::server {
namespace {

constexpr double kGiB = double(1ull << 30);

TEST(MemoryModelTest, LearnsFromPeaksAndRefusesWhatCannotFit) {
  MemoryModel m;
  EXPECT_TRUE(m.Check({4096, 4096}).ok());  // nothing learnt: nothing refused
  m.StartWarmup(/*baseline=*/1 * kGiB, /*limit=*/8 * kGiB);
  const BucketKey vga{640, 480};
  m.ObserveStep(vga, 1, 1.5 * kGiB);   // 0.5 GiB for one VGA image
  m.ObserveStep(vga, 2, 1.5 * kGiB);   // same peak: says nothing
  m.ObserveStep(vga, 4, 2.75 * kGiB);  // 1.75 GiB for four: 0.4375 each, the lowest
  EXPECT_NEAR(m.EstimateBytes(vga) / kGiB, 0.4375, 1e-9);
  EXPECT_NEAR(m.EstimateBytes({1280, 960}) / kGiB, 1.75, 1e-9);  // by pixels
  EXPECT_TRUE(m.Check({1920, 1080}).ok());                       // ~2.95 GiB of 7
  const absl::Status big = m.Check({4096, 4096});                // ~23.9 GiB
  EXPECT_EQ(big.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(big.message(),
            "4096x4096 needs about 23.9 GiB on this server, which has 7.0 GiB for requests (memory limit 8.0 GiB "
            "minus the model's 1.0 GiB): send a smaller image");
}

}  // namespace
}  // namespace ctrlfuse::server
