#include "client/progress.h"

#include <unistd.h>

namespace ctrlfuse::client {

Progress::Progress(std::string label, size_t total, FILE* out)
    : Progress(std::move(label), total, out, isatty(fileno(out)) != 0) {}

Progress::Progress(std::string label, size_t total, FILE* out, bool tty)
    : label_(std::move(label)), total_(total), out_(out), tty_(tty), start_(std::chrono::steady_clock::now()) {}

void Progress::Update(size_t done, size_t failed) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  if (tty_) {
    const int width = 30, filled = total_ ? int(width * done / total_) : width;
    // \033[K: erase to the end of the line (a shorter redraw leaves nothing behind).
    std::fprintf(out_, "\r%s [%.*s%*s] %zu/%zu %.1f/s ETA %.0fs failed %zu\033[K", label_.c_str(), filled,
                 "##############################", width - filled, "", done, total_, rate, eta, failed);
    std::fflush(out_);
  } else {
    const int decile = total_ ? int(10 * done / total_) : 10;
    if (decile != last_decile_) {
      last_decile_ = decile;
      std::fprintf(out_, "%s %zu/%zu (%.1f/s, ETA %.0fs, %zu failed)\n", label_.c_str(), done, total_, rate, eta,
                   failed);
    }
  }
}

void Progress::Finish() {
  if (tty_) std::fprintf(out_, "\n");
}

}  // namespace ctrlfuse::client
