// The metrics port as operators use it: /metrics, /healthz and /readyz over
// real HTTP on localhost, a port in use refused, the process and build
// metrics, per-metric quality buckets, the cgroup memory limit, and the GPU
// collector on its real dlopen path (with an NVML stand-in: no driver here).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "quality/metrics.h"
#include "server/metrics.h"
#include "server/process_metrics.h"
#include "tests/server/test_net.h"

namespace ctrlfuse::server {
namespace {

using testing::HttpGetResponse;
using testing::ParseMetrics;

TEST(MetricsEndpointTest, ReadyzFollowsServingAndHealthzAlwaysAnswers) {
  Metrics m;
  ASSERT_TRUE(m.Serve("127.0.0.1:0").ok());
  const int port = m.port();
  ASSERT_GT(port, 0);
  auto ready = HttpGetResponse(port, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "NOT_SERVING\n");
  EXPECT_EQ(HttpGetResponse(port, "/healthz").status, 200);
  m.SetServing(true);
  ready = HttpGetResponse(port, "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "SERVING\n");
  auto scraped = ParseMetrics(HttpGetResponse(port, "/metrics").body);
  EXPECT_EQ(scraped.at("ctrlfuse_serving"), 1);
  EXPECT_EQ(scraped.at("ctrlfuse_draining"), 0);
  m.SetDraining(true);
  m.SetServing(false);
  EXPECT_EQ(HttpGetResponse(port, "/readyz").status, 503);
  scraped = ParseMetrics(HttpGetResponse(port, "/metrics").body);
  EXPECT_EQ(scraped.at("ctrlfuse_serving"), 0);
  EXPECT_EQ(scraped.at("ctrlfuse_draining"), 1);
  EXPECT_EQ(HttpGetResponse(port, "/healthz").body, "ok\n");
}

TEST(MetricsEndpointTest, APortInUseIsRefusedNamingTheAddress) {
  Metrics first, second;
  ASSERT_TRUE(first.Serve("127.0.0.1:0").ok());
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  const absl::Status s = second.Serve(address);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(address), std::string::npos) << s.message();
  EXPECT_EQ(second.port(), 0);
  EXPECT_EQ(HttpGetResponse(first.port(), "/healthz").status, 200);  // the first keeps serving
}

TEST(MetricsEndpointTest, ProcessAndBuildMetricsDescribeThisProcess) {
  Metrics m;
  ASSERT_TRUE(m.Serve("127.0.0.1:0").ok());
  const std::string text = HttpGetResponse(m.port(), "/metrics").body;
  auto s = ParseMetrics(text);
  const double now = double(std::time(nullptr));
  // Started before now, and (this test binary) less than an hour ago.
  EXPECT_LE(s.at("process_start_time_seconds"), now + 1);
  EXPECT_GT(s.at("process_start_time_seconds"), now - 3600);
  const double fds = double(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
  EXPECT_NEAR(s.at("process_open_fds"), fds, 8);  // sockets may open and close meanwhile
  EXPECT_GT(s.at("process_max_fds"), 0);
  EXPECT_GT(s.at("process_virtual_memory_bytes"), s.at("process_resident_memory_bytes"));
  EXPECT_EQ(s.at("ctrlfuse_memory_limit_bytes"), MemoryLimitBytes());
  EXPECT_NE(text.find("ctrlfuse_build_info{revision=\""), std::string::npos) << text;
  EXPECT_NE(text.find("version=\"" CTRLFUSE_TEST_VERSION "\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("ctrlfuse_gpu_"), std::string::npos);  // no GPU watched
}

TEST(MetricsEndpointTest, FailureReasonsAndOkSeriesStartAtZero) {
  Metrics m;
  ASSERT_TRUE(m.Serve("127.0.0.1:0").ok());
  auto s = ParseMetrics(HttpGetResponse(m.port(), "/metrics").body);
  for (const char* reason : {"rejected", "deadline", "cancelled", "invalid", "internal", "unimplemented", "other"})
    EXPECT_EQ(s.at(std::string("ctrlfuse_failures_total{reason=\"") + reason + "\"}"), 0) << reason;
  for (const char* method : {"Fuse", "FuseStream", "GetModelInfo"})
    EXPECT_EQ(s.at(std::string("ctrlfuse_requests_total{code=\"OK\",method=\"") + method + "\"}"), 0) << method;
}

TEST(MetricsEndpointTest, EachQualityMetricHasBucketsForItsOwnRange) {
  Metrics m;
  m.ObserveQuality("PSNR", 62.5);
  m.ObserveQuality("MSE", 0.045);
  m.ObserveQuality("NOPE", 1);                              // not a metric: ignored
  std::map<std::string, std::map<double, double>> buckets;  // family -> le -> count
  for (const auto& f : m.registry().Collect())
    for (const auto& metric : f.metric)
      for (const auto& b : metric.histogram.bucket) buckets[f.name][b.upper_bound] = double(b.cumulative_count);
  ASSERT_EQ(buckets.count("ctrlfuse_fusion_quality_psnr"), 1u);
  ASSERT_EQ(buckets.count("ctrlfuse_fusion_quality_mse"), 1u);
  EXPECT_EQ(buckets.count("ctrlfuse_fusion_quality_nope"), 0u);
  EXPECT_EQ(buckets.count("ctrlfuse_fusion_quality"), 0u);
  // PSNR ~62 dB falls between buckets 62 and 63, MSE 0.045 between 0.04 and
  // 0.05: one shared set of buckets could not resolve both.
  EXPECT_EQ(buckets["ctrlfuse_fusion_quality_psnr"].at(62), 0);
  EXPECT_EQ(buckets["ctrlfuse_fusion_quality_psnr"].at(63), 1);
  EXPECT_EQ(buckets["ctrlfuse_fusion_quality_mse"].at(0.04), 0);
  EXPECT_EQ(buckets["ctrlfuse_fusion_quality_mse"].at(0.05), 1);
  int families = 0;
  for (const auto& [name, b] : buckets) families += name.rfind("ctrlfuse_fusion_quality_", 0) == 0;
  EXPECT_EQ(families, 13);
  // Every metric the quality library computes has its histogram (the
  // buckets table in metrics.cc names them again).
  for (const auto& name : quality::MetricNames()) {
    m.ObserveQuality(name, 0.5);
    bool found = false;
    for (const auto& f : m.registry().Collect())
      if (f.name == "ctrlfuse_fusion_quality_" + absl::AsciiStrToLower(name))
        found = !f.metric.empty() && f.metric[0].histogram.sample_count >= 1;
    EXPECT_TRUE(found) << name;
  }
}

TEST(MemoryLimitTest, ReadsTheCgroupLimitElseTheMachinesMemory) {
  const auto root = std::filesystem::temp_directory_path() / ("cg-" + std::to_string(getpid()));
  std::filesystem::create_directories(root / "memory");
  auto write = [&](const std::string& file, const std::string& text) { std::ofstream(root / file) << text; };
  const double machine = MemoryLimitBytes((root / "absent").string());
  EXPECT_GT(machine, 1e8);              // MemTotal of /proc/meminfo
  write("memory.max", "1073741824\n");  // cgroup v2
  EXPECT_EQ(MemoryLimitBytes(root.string()), 1073741824.0);
  write("memory.max", "max\n");  // v2, unlimited: v1 next, then the machine
  EXPECT_EQ(MemoryLimitBytes(root.string()), machine);
  write("memory/memory.limit_in_bytes", "536870912\n");
  EXPECT_EQ(MemoryLimitBytes(root.string()), 536870912.0);
  write("memory/memory.limit_in_bytes", "9223372036854771712\n");  // v1's "no limit"
  EXPECT_EQ(MemoryLimitBytes(root.string()), machine);
  std::filesystem::remove_all(root);
}

// What the memory model reads at warm-up (server/memory_model.h).
TEST(ProcessMemoryTest, ThisProcessHasAResidentAndAPeakSize) {
  const double resident = ResidentBytes();  // read first: the peak read later covers it
  EXPECT_GT(resident, 1e6);
  EXPECT_GE(PeakResidentBytes(), resident);
}

TEST(GpuMetricsTest, ExportsEachGpuThatNvmlReports) {
  setenv("CTRLFUSE_NVML_LIBRARY", CTRLFUSE_FAKE_NVML, 1);  // test double, see tests/support/fake_nvml.c
  Metrics m;
  std::string why;
  ASSERT_TRUE(m.WatchGpus(&why)) << why;
  ASSERT_TRUE(m.Serve("127.0.0.1:0").ok());
  auto s = ParseMetrics(HttpGetResponse(m.port(), "/metrics").body);
  EXPECT_EQ(s.at("ctrlfuse_gpu_memory_used_bytes{gpu=\"0\",uuid=\"GPU-fake-0\"}"), 1.5e9);
  EXPECT_EQ(s.at("ctrlfuse_gpu_memory_used_bytes{gpu=\"1\",uuid=\"GPU-fake-1\"}"), 3e9);
  EXPECT_EQ(s.at("ctrlfuse_gpu_memory_total_bytes{gpu=\"1\",uuid=\"GPU-fake-1\"}"), double(80ull << 30));
  EXPECT_DOUBLE_EQ(s.at("ctrlfuse_gpu_utilization_ratio{gpu=\"0\",uuid=\"GPU-fake-0\"}"), 0.37);
  unsetenv("CTRLFUSE_NVML_LIBRARY");
}

TEST(GpuMetricsTest, NoNvmlMeansNoGpuSeriesAndSaysWhy) {
  setenv("CTRLFUSE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  Metrics m;
  std::string why;
  EXPECT_FALSE(m.WatchGpus(&why));
  EXPECT_NE(why.find("/nonexistent/libnvidia-ml.so.1"), std::string::npos) << why;
  unsetenv("CTRLFUSE_NVML_LIBRARY");
}

}  // namespace
}  // namespace ctrlfuse::server
