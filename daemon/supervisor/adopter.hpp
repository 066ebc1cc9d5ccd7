// Adopter: a pmxd taking over from one that stopped without stopping its apps (a crash, a kill
// -9, `update`'s exec) finds them again: the state file's instances, their running leaders
// watched, what the last pmxd was doing to them carried on, and runs the file lagged behind
// found through their processes' marker. Crash-only: this is pmxd's only way to start.
#pragma once

#include <functional>

#include "daemon/process/process_ops.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/exit_recorder.hpp"
#include "daemon/supervisor/instance_control.hpp"
#include "daemon/supervisor/launcher.hpp"
#include "daemon/supervisor/registry.hpp"
#include "daemon/supervisor/state_writer.hpp"

namespace pmx::daemon {

class Adopter {
 public:
  /// Called when an adopted leader (not pmxd's child: seen through its pidfd) has ended.
  using LeaderExited = std::function<void(Instance& in, pid_t pid, ExitStatus exit)>;

  /// Every part must outlive the adopter.
  Adopter(Registry& registry, Launcher& launcher, ProcessOps& processes, ExitRecorder& exits, StateWriter& state,
          Timers& timers, InstanceControl& control, LeaderExited leader_exited);
  Adopter(const Adopter&) = delete;
  Adopter& operator=(const Adopter&) = delete;

  /// Re-adopts the instances the state file records. A file that does not read is set aside
  /// (state.json.corrupt-<time>) and pmxd starts with no app.
  void adopt_from_state();
  /// Warns of this home's cgroups that hold processes no recorded instance owns (left as they are).
  void warn_of_unknown_cgroups() const;

 private:
  /// Watches the exit of in's adopted leader; false when the process is gone or is no longer
  /// the one recorded.
  bool watch_adopted(Instance& in);
  /// Adopts the run of in that its processes' marker names, when the recorded leader is gone
  /// (the state file lagged when the last pmxd died); false when none runs.
  bool adopt_unrecorded_run(Instance& in);

  Registry& registry_;
  Launcher& launcher_;
  ProcessOps& processes_;
  ExitRecorder& exits_;
  StateWriter& state_;
  Timers& timers_;
  InstanceControl& control_;
  LeaderExited leader_exited_;
};

}  // namespace pmx::daemon
