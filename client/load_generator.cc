#include "client/load_generator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ctrlfuse::client {

double Percentile(const std::vector<double>& sorted, double pct) {
  if (sorted.empty()) return 0;
  const size_t rank = size_t(std::ceil(pct / 100.0 * double(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

LoadReport RunLoad(FusionClient& client, const std::vector<v1::FuseRequest>& requests, const LoadOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto stop_at =
      options.duration_seconds > 0
          ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_seconds))
          : Clock::time_point::max();
  std::atomic<int64_t> issued{0};
  std::mutex mu;
  std::vector<double> latencies;
  LoadReport report;
  auto take_slot = [&]() -> int64_t {
    const int64_t n = issued.fetch_add(1);
    if (options.duration_seconds <= 0 && n >= options.count) return -1;
    if (Clock::now() >= stop_at) return -1;
    if (options.rate > 0) {  // open-loop schedule: request n starts at n / rate
      auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n / options.rate));
      if (due >= stop_at) return -1;
      std::this_thread::sleep_until(due);
    }
    return n;
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < std::max(1, options.concurrency); ++w) {
    workers.emplace_back([&] {
      for (int64_t n; (n = take_slot()) >= 0;) {
        v1::FuseRequest r = requests[size_t(n) % requests.size()];
        r.set_id(absl::StrCat(r.id(), "-", n));
        const auto t0 = Clock::now();
        auto resp = client.Fuse(r);
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        std::lock_guard<std::mutex> lock(mu);
        latencies.push_back(dt);
        report.codes[std::string(absl::StatusCodeToString(resp.status().code()))]++;
        if (resp.ok()) report.batch_sizes[resp->timings().batch_size()]++;
      }
    });
  }
  for (auto& t : workers) t.join();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  report.requests = int64_t(latencies.size());
  report.throughput = report.seconds > 0 ? report.requests / report.seconds : 0;
  report.p50 = Percentile(latencies, 50);
  report.p90 = Percentile(latencies, 90);
  report.p95 = Percentile(latencies, 95);
  report.p99 = Percentile(latencies, 99);
  report.max = latencies.empty() ? 0 : latencies.back();
  double sum = 0;
  for (double l : latencies) sum += l;
  report.mean = latencies.empty() ? 0 : sum / double(latencies.size());
  return report;
}

std::string LoadReport::Table() const {
  std::ostringstream s;
  s << absl::StrFormat("requests    %d in %.2f s\nthroughput  %.2f req/s\n", requests, seconds, throughput);
  s << absl::StrFormat("latency     mean %.1f ms  p50 %.1f  p90 %.1f  p95 %.1f  p99 %.1f  max %.1f ms\n", mean * 1e3,
                       p50 * 1e3, p90 * 1e3, p95 * 1e3, p99 * 1e3, max * 1e3);
  s << "status codes:";
  for (const auto& [code, n] : codes) s << "  " << code << " " << n;
  s << "\nbatch sizes: ";
  for (const auto& [b, n] : batch_sizes) s << "  " << b << ":" << n;
  s << "\n";
  return s.str();
}

std::string LoadReport::Json() const {
  std::ostringstream s;
  s << absl::StrFormat(
      "{\"requests\": %d, \"seconds\": %.6f, \"throughput\": %.6f, \"latency_seconds\": {\"mean\": %.6f, \"p50\": "
      "%.6f, "
      "\"p90\": %.6f, \"p95\": %.6f, \"p99\": %.6f, \"max\": %.6f}, \"codes\": {",
      requests, seconds, throughput, mean, p50, p90, p95, p99, max);
  bool first = true;
  for (const auto& [code, n] : codes) {
    s << (first ? "" : ", ") << "\"" << code << "\": " << n;
    first = false;
  }
  s << "}, \"batch_sizes\": {";
  first = true;
  for (const auto& [b, n] : batch_sizes) {
    s << (first ? "" : ", ") << "\"" << b << "\": " << n;
    first = false;
  }
  s << "}}";
  return s.str();
}

}  // namespace ctrlfuse::client
