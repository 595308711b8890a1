#include "server/stop_signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace ctrlfuse::server {
namespace {

int g_pipe[2] = {-1, -1};

// Async-signal-safe: one write, errno preserved.
void OnSignalHandler(int sig) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = write(g_pipe[1], &byte, 1);
  errno = saved;
}

struct State {
  absl::Mutex mu;
  int count ABSL_GUARDED_BY(mu) = 0;
  int first ABSL_GUARDED_BY(mu) = 0;
};
State& GetState() {
  static State* s = new State();  // never destroyed: the watcher may outlive main
  return *s;
}

}  // namespace

bool StopSignals::Install(OnSignal on_signal) {
  if (pipe2(g_pipe, O_CLOEXEC) != 0) return false;
  struct sigaction sa = {};
  sa.sa_handler = OnSignalHandler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGTERM, &sa, nullptr) != 0 || sigaction(SIGINT, &sa, nullptr) != 0) return false;
  std::thread([on_signal = std::move(on_signal)] {
    unsigned char byte = 0;
    while (true) {
      const ssize_t n = read(g_pipe[0], &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n != 1) return;
      int count = 0;
      {
        State& s = GetState();
        absl::MutexLock lock(&s.mu);
        count = ++s.count;
        if (count == 1) s.first = byte;
      }
      if (on_signal) on_signal(byte, count);
    }
  }).detach();
  return true;
}

int StopSignals::WaitForFirst() {
  State& s = GetState();
  absl::MutexLock lock(&s.mu);
  const auto arrived = [&s]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return s.count > 0; };
  s.mu.Await(absl::Condition(&arrived));
  return s.first;
}

int StopSignals::count() {
  State& s = GetState();
  absl::MutexLock lock(&s.mu);
  return s.count;
}

}  // namespace ctrlfuse::server
