// ExitRecorder: why each run ended. Remembers on the instance the reason its last run ended
// (pm2_env.last_exit_reason, describe's "last exit") and publishes it as instance.exit on the
// events topic.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "daemon/control/control_server.hpp"
#include "daemon/instance/exit_reason.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/process/process_ops.hpp"

namespace pmx::daemon {

class ExitRecorder {
 public:
  /// processes and server must outlive the recorder.
  ExitRecorder(ProcessOps& processes, ControlServer& server) : processes_(processes), server_(server) {}

  /// Notes what the transition of fx (if a row fired) starts ending in's run for (stop,
  /// restart, cron...), with the restart cause asked for just before the event; that cause is
  /// cleared here whatever happened.
  void note(Instance& in, const Effects& fx);

  /// The run of in led by pid ended with exit, in its cgroup: records why (cause when given, as
  /// for a run a reload replaced; else what pmxd was ending it for; else its own end, an OOM
  /// kill told by the cgroup's memory.events) and publishes it. Read before the cgroup is
  /// retired. Returns the reason.
  ExitReason record(Instance& in, pid_t pid, const ExitStatus& exit, const std::string& cgroup,
                    std::int64_t now_ms, std::optional<ExitReason> cause = std::nullopt);

 private:
  ProcessOps& processes_;
  ControlServer& server_;
};

}  // namespace pmx::daemon
