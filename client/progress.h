// Progress display: a bar with rate and ETA on a terminal, redrawn in place
// (each redraw clears the rest of the line, so a shorter one leaves no
// stale characters), plain lines (every 10%) otherwise.
// Thread-safety: not thread-safe; callers serialise Update.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace ctrlfuse::client {

class Progress {
 public:
  // `tty`: whether `out` is a terminal; by default isatty() decides.
  Progress(std::string label, size_t total, FILE* out = stderr);
  Progress(std::string label, size_t total, FILE* out, bool tty);
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
