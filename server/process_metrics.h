// Process metrics read from /proc at each scrape, with the names the
// Prometheus client libraries use (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds), plus
// ctrlfuse_memory_limit_bytes: the memory this process may use (its
// cgroup's limit, the container's in Kubernetes; the machine's memory when
// the cgroup sets none) so that an alert can compare RSS with it.
//
// Thread-safety: Collect may run on any thread (it reads files only).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <string>
#include <vector>

namespace ctrlfuse::server {

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// The memory limit in bytes: cgroup v2 `memory.max` or v1
// `memory.limit_in_bytes` under `cgroup_root`, else MemTotal of
// /proc/meminfo. Exposed for tests, which give their own cgroup files.
double MemoryLimitBytes(const std::string& cgroup_root = "/sys/fs/cgroup");

// This process's resident and peak resident memory (VmRSS, VmHWM of
// /proc/self/status) in bytes; 0 when unreadable.
double ResidentBytes();
double PeakResidentBytes();

// A family with one unlabelled sample.
prometheus::MetricFamily ScalarFamily(const std::string& name, const std::string& help, prometheus::MetricType type,
                                      double value);

}  // namespace ctrlfuse::server
