// SIGTERM and SIGINT for ctrlfuse-server, taken with a handler rather than
// a signal mask: a mask set in main() does not cover threads that libraries
// start before it (one such thread left SIGTERM at its default action, so a
// SIGTERM during warm-up killed the process). The handler only writes the
// signal number to a pipe; a watcher thread reads it, counts it and calls
// `on_signal` with the count so far (1 for the first).
//
// Behaviour (docs/reliability.md): the first signal starts the drain (or
// stops the warm-up after its current step, then drains); later ones are
// logged and the drain goes on. SIGKILL is the way to stop at once.
//
// Thread-safety: Install once, from main, before other threads matter;
// WaitForFirst and count from any thread. `on_signal` runs on the watcher
// thread. The process-wide handler outlives main (never uninstalled).
#pragma once

#include <functional>

#include "absl/synchronization/mutex.h"

namespace ctrlfuse::server {

class StopSignals {
 public:
  using OnSignal = std::function<void(int signal, int count)>;
  // Installs the handlers and starts the watcher; false (errno set) when
  // the pipe or sigaction fails.
  static bool Install(OnSignal on_signal);

  // Blocks until the first signal has arrived; returns its number.
  static int WaitForFirst();
  // Signals received so far.
  static int count();
};

}  // namespace ctrlfuse::server
