// A ghz-like load generator: fixed concurrency or a fixed request rate, for
// a duration or a request count; reports throughput, latency percentiles
// and the status-code distribution.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "client/fusion_client.h"

namespace ctrlfuse::client {

struct LoadOptions {
  int concurrency = 8;
  double rate = 0;              // requests/s across all workers; 0 = as fast as possible
  double duration_seconds = 0;  // stop after this long (0 = use count)
  int64_t count = 100;          // stop after this many requests (when no duration)
};

struct LoadReport {
  int64_t requests = 0;
  double seconds = 0;
  double throughput = 0;                                         // completed requests / s
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;  // seconds
  std::map<std::string, int64_t> codes;
  std::map<uint32_t, int64_t> batch_sizes;  // from successful responses

  std::string Table() const;
  std::string Json() const;
};

// Workers send the requests in turn (request n is requests[n % size], ids
// made unique) through `client`. Distinct pairs keep a batching server
// honest: identical pairs in one batch are encoded once.
LoadReport RunLoad(FusionClient& client, const std::vector<v1::FuseRequest>& requests, const LoadOptions& options);

// Percentile (0..100) of sorted values, nearest-rank.
double Percentile(const std::vector<double>& sorted, double pct);

}  // namespace ctrlfuse::client
