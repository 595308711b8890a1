// ctrlfuse-eval: fusion quality metrics for one triple (JSON or a table) or
// for a data set (per-image CSV plus the paper-style table of means).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "common/folder_pairs.h"
#include "quality/metrics.h"

ABSL_FLAG(std::string, ir, "", "Infrared image.");
ABSL_FLAG(std::string, vis, "", "Visible image.");
ABSL_FLAG(std::string, fused, "", "Fused image.");
ABSL_FLAG(std::string, ir_dir, "", "Data set: infrared folder.");
ABSL_FLAG(std::string, vis_dir, "", "Data set: visible folder.");
ABSL_FLAG(std::string, fused_dir, "", "Data set: fused folder (pairs by file stem).");
ABSL_FLAG(std::string, metrics, "", "Comma-separated subset (default: all).");
ABSL_FLAG(bool, json, false, "Single triple: print one JSON object.");
ABSL_FLAG(std::string, csv, "", "Data set: also write the per-image CSV here (default: stdout).");

namespace {
namespace fs = std::filesystem;
using ctrlfuse::quality::Compute;

cv::Mat Read(const std::string& path) {
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty()) {
    std::cerr << "cannot read image " << path << std::endl;
    std::exit(1);
  }
  return m;
}

std::string Number(double v) {
  std::ostringstream s;
  s << std::setprecision(10) << v;
  return s.str();
}

// One triple: a JSON object or a two-column table.
int EvalOne(const std::vector<std::string>& names) {
  auto values =
      Compute(Read(absl::GetFlag(FLAGS_ir)), Read(absl::GetFlag(FLAGS_vis)), Read(absl::GetFlag(FLAGS_fused)), names);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << "{";
    for (size_t i = 0; i < names.size(); ++i)
      std::cout << (i ? ", " : "") << "\"" << names[i] << "\": " << Number(values[names[i]]);
    std::cout << "}" << std::endl;
  } else {
    for (const auto& n : names) std::cout << std::left << std::setw(6) << n << Number(values[n]) << "\n";
  }
  return 0;
}

// A data set paired by stem (common/folder_pairs.h): the per-image CSV and
// the table of means.
int EvalFolders(const std::vector<std::string>& names) {
  const auto files = ctrlfuse::common::PairByStem(
                         {absl::GetFlag(FLAGS_fused_dir), absl::GetFlag(FLAGS_ir_dir), absl::GetFlag(FLAGS_vis_dir)})
                         .pairs;
  std::ostringstream csv;
  csv << "file";
  for (const auto& n : names) csv << "," << n;
  csv << "\n";
  std::map<std::string, double> sums;
  const bool tty = isatty(fileno(stderr));
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];  // paths: fused, infrared, visible
    auto v = Compute(Read(f.paths[1]), Read(f.paths[2]), Read(f.paths[0]), names);
    csv << fs::path(f.paths[0]).filename().string();
    for (const auto& n : names) {
      csv << "," << Number(v[n]);
      sums[n] += v[n];
    }
    csv << "\n";
    if (tty) std::cerr << "\reval " << i + 1 << "/" << files.size() << std::flush;
  }
  if (tty) std::cerr << "\n";
  if (absl::GetFlag(FLAGS_csv).empty()) {
    std::cout << csv.str();
  } else {
    std::ofstream(absl::GetFlag(FLAGS_csv)) << csv.str();
  }
  std::cout << "\n|";
  for (const auto& n : names) std::cout << " " << n << " |";
  std::cout << "\n|";
  for (size_t i = 0; i < names.size(); ++i) std::cout << "---|";
  std::cout << "\n|";
  for (const auto& n : names)
    std::cout << " " << std::fixed << std::setprecision(4) << (files.empty() ? 0 : sums[n] / files.size()) << " |";
  std::cout << "\n\n" << files.size() << " images" << std::endl;
  return files.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ctrlfuse-eval --ir A --vis B --fused F [--json] [--metrics EN,SSIM]\n"
      "ctrlfuse-eval --ir_dir D --vis_dir D --fused_dir D [--csv FILE]");
  absl::ParseCommandLine(argc, argv);
  std::vector<std::string> names;
  for (auto m : absl::StrSplit(absl::GetFlag(FLAGS_metrics), ',', absl::SkipEmpty())) {
    const auto& known = ctrlfuse::quality::MetricNames();
    if (std::find(known.begin(), known.end(), std::string(m)) == known.end()) {
      std::cerr << "unknown metric '" << m << "'" << std::endl;
      return 2;
    }
    names.emplace_back(m);
  }
  if (names.empty()) names = ctrlfuse::quality::MetricNames();

  if (!absl::GetFlag(FLAGS_ir).empty()) return EvalOne(names);
  if (absl::GetFlag(FLAGS_ir_dir).empty()) {
    std::cerr << absl::ProgramUsageMessage() << std::endl;
    return 2;
  }
  return EvalFolders(names);
}
