// Timing helpers shared by the benchmarks (header-only; not thread-safe
// state: none kept).
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace ctrlfuse::bench {

// Seconds on the monotonic clock (differences only).
inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The median of non-empty `v` (the upper one of an even count), as every
// benchmark here reports.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace ctrlfuse::bench
