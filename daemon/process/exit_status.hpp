// How a process ended, and the daemon's clock: the words the process layer and the state
// machine share.
#pragma once

#include <chrono>

namespace pmx::daemon {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

/// How the leader process ended, as waitpid reported it.
struct ExitStatus {
  int code = 0;          ///< exit code when exited normally
  int signal = 0;        ///< terminating signal, 0 when exited normally
  bool unknown = false;  ///< the exit of an adopted process (not our child): no status known
};

}  // namespace pmx::daemon
