// Progress display: a bar with rate and ETA on a terminal, plain lines
// (every 10%) otherwise.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace ctrlfuse::client {

class Progress {
 public:
  Progress(std::string label, size_t total, FILE* out = stderr);
  void Update(size_t done, size_t failed);
  void Finish();

 private:
  std::string label_;
  size_t total_;
  FILE* out_;
  bool tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace ctrlfuse::client
