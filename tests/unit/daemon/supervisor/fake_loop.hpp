// FakeLoop: the loop and the fake clock a rig of the supervisor's parts runs on. settle() runs
// what the loop has ready; advance(d) moves the clock on by d, each deadline due on the way
// firing at its time and the loop run after each.
#pragma once

#include <boost/asio/io_context.hpp>

#include "tests/unit/daemon/process/fake_timers.hpp"

namespace pmx::daemon::testing {

struct FakeLoop {
  /// Runs what is ready now (no timer that has not expired).
  void settle() {
    io.restart();
    io.poll();
  }
  void advance(Millis d) {
    settle();
    timers.advance(d, [this] { settle(); });
    settle();
  }

  boost::asio::io_context io{1};
  FakeTimers timers;
};

}  // namespace pmx::daemon::testing
