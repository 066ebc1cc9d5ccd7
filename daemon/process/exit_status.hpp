// How a process ended, and the daemon's clock: the words the process layer and the state
// machine share.
#pragma once

#include <chrono>
#include <optional>

namespace pmx::daemon {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

/// How the leader process ended, as waitpid reported it.
struct ExitStatus {
  int code = 0;          ///< exit code when exited normally
  int signal = 0;        ///< terminating signal, 0 when exited normally
  bool unknown = false;  ///< the exit of an adopted process (not our child): no status known
  /// How long the process ran, from its own start (its /proc starttime) to its reaping; unset
  /// when unknown (an adopted process). The restart policy's uptime: pmxd may hear of an exit,
  /// or get to fork, long after the fact when the CPU is contended.
  std::optional<Millis> ran_for = std::nullopt;
};

}  // namespace pmx::daemon
