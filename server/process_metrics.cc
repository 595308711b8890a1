#include "server/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ctrlfuse::server {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The number after `key` at the start of a line of the file at `path`
// ("btime 1700000000" in /proc/stat, "VmRSS:  1234 kB" in
// /proc/self/status); 0 when absent.
double KeyedValue(const std::string& path, const std::string& key) {
  std::istringstream in(ReadAll(path));
  std::string word;
  double value = 0;
  while (in >> word) {
    if (word == key && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

// Boot time (seconds since the epoch), the `btime` line of /proc/stat.
double BootTime() { return KeyedValue("/proc/stat", "btime"); }

// A limit file's value in bytes; 0 when absent or unlimited ("max", or v1's
// huge sentinel near 2^63).
double LimitFile(const std::string& path) {
  std::string text = ReadAll(path);
  if (text.empty() || text.rfind("max", 0) == 0) return 0;
  try {
    const double v = std::stod(text);
    return v > 0 && v < 1e18 ? v : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

double ResidentBytes() { return KeyedValue("/proc/self/status", "VmRSS:") * 1024; }
double PeakResidentBytes() { return KeyedValue("/proc/self/status", "VmHWM:") * 1024; }

prometheus::MetricFamily ScalarFamily(const std::string& name, const std::string& help, prometheus::MetricType type,
                                      double value) {
  prometheus::MetricFamily f{name, help, type, {}};
  prometheus::ClientMetric m;
  (type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value) = value;
  f.metric.push_back(m);
  return f;
}

double MemoryLimitBytes(const std::string& cgroup_root) {
  for (const char* file : {"/memory.max", "/memory/memory.limit_in_bytes"})
    if (double v = LimitFile(cgroup_root + file); v > 0) return v;
  std::istringstream in(ReadAll("/proc/meminfo"));
  std::string key;
  double kib = 0;
  while (in >> key) {
    if (key == "MemTotal:" && in >> kib) return kib * 1024;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  // /proc/self/stat: fields after the ")" that ends the command name start
  // at field 3; utime, stime are 14, 15, starttime (ticks after boot) 22,
  // vsize (bytes) 23.
  const std::string stat = ReadAll("/proc/self/stat");
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double utime = 0, stime = 0, start_ticks = 0, vsize = 0;
  for (int i = 3; i <= 23 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
    if (i == 22) start_ticks = std::stod(field);
    if (i == 23) vsize = std::stod(field);
  }
  const double ticks = double(sysconf(_SC_CLK_TCK));
  long size_pages = 0, resident_pages = 0;
  std::istringstream(ReadAll("/proc/self/statm")) >> size_pages >> resident_pages;
  std::error_code ec;
  double open_fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != decltype(it)();
       it.increment(ec))
    ++open_fds;
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  return {
      ScalarFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
                   (utime + stime) / ticks),
      ScalarFamily("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
                   double(resident_pages) * double(sysconf(_SC_PAGESIZE))),
      ScalarFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, vsize),
      ScalarFamily("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                   MetricType::Gauge, BootTime() + start_ticks / ticks),
      ScalarFamily("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, open_fds),
      ScalarFamily("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
                   double(nofile.rlim_cur)),
      ScalarFamily("ctrlfuse_memory_limit_bytes",
                   "Memory this process may use: its cgroup's limit, or the machine's memory when none is set.",
                   MetricType::Gauge, MemoryLimitBytes()),
  };
}

}  // namespace ctrlfuse::server
