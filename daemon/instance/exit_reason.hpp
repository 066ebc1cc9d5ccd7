// ExitReason: why a run of an instance ended, as jlist (pm2_env.last_exit_reason), describe,
// pmx.log and the events stream name it.
#pragma once

#include <optional>
#include <string>

#include "daemon/instance/instance_fsm.hpp"
#include "daemon/process/exit_status.hpp"

namespace pmx::daemon {

/// Why a run ended. The first three are the run's own end (pmxd did not ask it to end); the
/// others name what made pmxd end it.
enum class ExitReason {
  Exit,              ///< it exited on its own (with its code)
  Signal,            ///< a signal pmxd did not send ended it
  Oom,               ///< the kernel's OOM killer, inside the run's cgroup (memory.events oom_kill)
  MaxMemoryRestart,  ///< pmxd's graceful memory limit (max_memory_restart)
  HealthCheck,       ///< its health check found it unhealthy
  Cron,              ///< cron_restart
  Watch,             ///< a watched file changed
  Restart,           ///< `pmx restart` (or a start of a running app)
  Reload,            ///< `pmx reload`: the run was replaced (or restarted in fork mode)
  Stop,              ///< `pmx stop`, `delete`, `kill`, pmxd's shutdown
};

/// The name of a reason ("max_memory_restart"), as jlist and the events stream spell it.
const char* to_string(ExitReason reason);
/// The reason named name, or nullopt.
std::optional<ExitReason> exit_reason_from_string(const std::string& name);

/// Why a run that pmxd did not ask to end ended: Oom when it was SIGKILLed and its cgroup
/// counted an OOM kill (oom_kills > 0), Signal for any other signal, else Exit (an unknown
/// status, as an adopted run's, is an Exit with no code).
ExitReason own_end(const ExitStatus& exit, std::uint64_t oom_kills);

/// What pmxd is ending a run for, when transition starts ending it: it enters stopping
/// (Stop) or restarting (MaxMemoryRestart for memory_exceeded; for a restart, requested, as
/// cron, watch, reload or a health check set it, else Restart). nullopt for any other
/// transition (a stop of an instance already stopping keeps the first cause).
std::optional<ExitReason> ending_cause(const Transition& transition, std::optional<ExitReason> requested);

/// The reason with what it carries, for people: "exit (code 1)", "signal (SIGSEGV)", "oom
/// (SIGKILL)", "cron".
std::string exit_reason_text(ExitReason reason, const ExitStatus& exit);

}  // namespace pmx::daemon
