// Instance: one running copy of an app, as the supervisor keeps it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/app_spec.hpp"
#include "daemon/instance/exit_reason.hpp"
#include "daemon/instance/health_status.hpp"
#include "daemon/instance/app_metrics.hpp"
#include "daemon/instance/metrics_history.hpp"
#include "daemon/instance/instance_fsm.hpp"
#include "daemon/instance/run.hpp"
#include "daemon/logs/log_pipe.hpp"
#include "daemon/listeners/node_channel.hpp"
#include "daemon/process/process_tree.hpp"
#include "daemon/process/sampler.hpp"
#include "daemon/process/timers.hpp"

namespace pmx::daemon {

/// A run that reload started beside the instance's running one. It takes over once it is ready,
/// and the old run is then stopped; if it ends or never becomes ready, it is killed and the old
/// run goes on serving. Its run's deadline is its wait: listen_timeout while it is awaited to
/// say it is ready; min_uptime for an app that has no way to say so (it takes over if it is
/// still running then).
struct Candidate {
  Run run;
  std::function<void(const std::string& error)> done;  ///< "" once it took over
};

/// A run that a reload replaced, on its way out: stopped gracefully, SIGKILLed at kill_timeout
/// (its run's deadline; never armed for a killed replacement). Its cgroup is among the
/// instance's old_cgroups; its end changes nothing in the state machine.
struct RetiringRun {
  Run run;
  ExitReason reason = ExitReason::Reload;  ///< recorded as its end: reload, or health_check
};

struct Instance {
  Instance(int pm_id, config::AppSpec app) : id(pm_id), spec(std::move(app)), fsm(Policy::from(spec)) {}

  int id;
  config::AppSpec spec;
  /// The CLI's environment at start (or restart --update-env); shared by the instances of one
  /// command, since a hundred copies of the same environment would be most of the daemon's memory.
  std::shared_ptr<const config::Env> caller_env;
  std::string unique_id;         ///< kept across restarts
  int app_instance = 0;          ///< NODE_APP_INSTANCE: smallest free index for the name
  InstanceFsm fsm;
  /// The current run (pid 0 when none is alive). Its cgroup is made fresh for it; the last
  /// run's failed exec stays in exec_error until the next exec's outcome is known.
  Run run;
  /// Cgroups of earlier runs not yet removed (their last processes may still be dying).
  /// Each run gets a fresh cgroup: a cgroup once cleared with cgroup.kill kills every child
  /// later cloned into it on some kernels, and a fresh one also keeps runs apart.
  std::vector<std::string> old_cgroups;
  std::string spare_cgroup;      ///< made ahead of time for the next run
  unsigned cgroup_generation = 0;
  std::int64_t created_at_ms = 0;  ///< wall clock, epoch ms
  std::int64_t started_at_ms = 0;  ///< wall clock of the last spawn
  ExitStatus last_exit;
  bool exited_once = false;
  /// Why pmxd is ending the current run (stop, restart, max_memory_restart...), from the
  /// transition that began it; cleared once the run's end is recorded (ExitRecorder).
  std::optional<ExitReason> ending_cause;
  /// What the next restart event is for (cron, watch, reload), set by whoever asks for it just
  /// before; read and cleared by that event's transition. Unset: a plain restart.
  std::optional<ExitReason> restart_cause;
  /// Why the last run ended (unset until one has), and when (wall clock, epoch ms).
  std::optional<ExitReason> last_exit_reason;
  std::int64_t last_exit_at_ms = 0;
  /// What the health checks found in the current run (Health::None without a check).
  HealthStatus health;
  /// Why it waits, launching with no pid, to start: "waiting for db" (depends_on, StartOrder);
  /// empty when it does not.
  std::string start_blocker;
  bool deleting = false;

  /// The instance's one deadline; what it means comes from the state: launching and awaiting
  /// ready, listen_timeout; stopping or restarting, kill_timeout (SIGKILL); waiting_restart, the
  /// restart delay. Armed and dropped where a transition's effects are carried out
  /// (Supervisor::apply), the ready wait where the exec is confirmed.
  Deadline deadline;
  Deadline cron;  ///< the next cron_restart, when the spec has one
  /// Readiness: the run's exec succeeded and the instance waits (launching) for the app to say
  /// it is ready, until listen_timeout (the deadline). Once that has passed the run is online
  /// anyway, as under PM2; ready_warning then says that no ready message came (jlist, start's
  /// output).
  bool awaiting_ready = false;
  std::string ready_warning;
  std::string notify_status;     ///< the app's last sd_notify STATUS=, shown by describe
  /// Sockets the app asked for on its Node channel and was refused (pmx.log names the first
  /// ten and every thousandth).
  std::uint64_t listen_refusals = 0;

  /// Memory and CPU of the current run, as the last sampling tick read them.
  ResourceSample usage;
  /// What the current run's limits count (cpu_quota, memory_max, tasks_max), as the last
  /// sampling tick read them; unset values for limits it does not have.
  LimitUsage limit_usage;
  /// What the current run reports about itself (Node: the preload, @pm2/io); none at a new run.
  AppMetrics metrics;
  /// The last minutes of usage, kept across runs (the sampler adds a point per round).
  MetricsHistory history;

  Membership membership() const { return Membership{run.pid, unique_id, run.cgroup}; }

  /// The environment its process gets: the caller's, then the app's, then what PM2 sets.
  /// jlist shows it too, built when asked rather than kept: it is most of every entry.
  config::Env environment(const std::string& home) const;
  /// What environment() adds to the caller's: the app's env and what PM2 sets.
  config::Env own_environment(const std::string& home) const;
  /// Whether the caller's variable key reaches the process (filter_env, filter_env: true).
  bool keeps_caller_var(const std::string& key) const;
  /// The caller's value of key when it reaches the process, else null.
  const std::string* caller_var(const std::string& key) const;
  /// The pid file path ($PMX_HOME/pids/<name>-<id>.pid unless the spec names one).
  std::string pid_path;
  std::string out_path;
  std::string err_path;
  std::string log_path;          ///< the combined log (log_file), empty for none
  std::string out_fifo;          ///< the FIFOs that carry its stdout and stderr
  std::string err_fifo;
  std::shared_ptr<LogSink> out_sink;  ///< the writers of out_path and err_path
  std::shared_ptr<LogSink> err_sink;
  std::shared_ptr<LogSink> log_sink;  ///< the writer of log_path, or null
  std::shared_ptr<LogPipe> out_pipe;  ///< the readers of the FIFOs, for the instance's life
  std::shared_ptr<LogPipe> err_pipe;
  /// Reload's replacement run while it starts beside the current one; null otherwise.
  std::unique_ptr<Candidate> candidate;
  /// The candidate replaces an unhealthy run (cluster mode): its take-over is
  /// Event::ReplacedUnhealthy and the old run's end is recorded as health_check.
  bool replacing_unhealthy = false;
  /// Runs a reload replaced that have not ended yet.
  std::vector<RetiringRun> retiring;
};

/// "name:id", how the daemon's log names an instance.
std::string label(const Instance& in);
/// How a leader ended, for the log: "exited with code 1", "killed by SIGKILL".
std::string how_it_ended(const ExitStatus& exit);
/// The warning of a wait_ready run that never said it was ready, online anyway.
std::string no_ready_message(const config::AppSpec& spec);
/// What a reply to start, restart, reload, scale or resurrect waits for: the instance is
/// settled (not on its way to another state), or gone.
inline bool settled_or_gone(const Instance* in) { return !in || is_settled(in->fsm.state()); }

}  // namespace pmx::daemon
