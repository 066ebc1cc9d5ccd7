// Supervisor: routing. Requests and events (exits, channel and notify messages, timers) go to the
// instances' state machine, and the effects it returns are carried out through the parts it
// holds: Registry, Launcher, AppSockets, SettleWaiters, StateWriter, RestartTriggers,
// UsageSampler, AppMessages, RunReplacer. One thread, one io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "config/paths.hpp"
#include "daemon/instance/env_pool.hpp"
#include "daemon/instance/app.hpp"
#include "daemon/control/control_server.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/logs/log_feed.hpp"
#include "daemon/listeners/notify_socket.hpp"
#include "daemon/logs/log_sink.hpp"
#include "daemon/process/credentials_cache.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/process/spawn.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/state/background_writer.hpp"
#include "daemon/listeners/metrics_endpoint.hpp"
#include "daemon/supervisor/adopter.hpp"
#include "daemon/supervisor/app_messages.hpp"
#include "daemon/supervisor/app_sockets.hpp"
#include "daemon/supervisor/daemon_options.hpp"
#include "daemon/supervisor/describe.hpp"
#include "daemon/supervisor/dump_verbs.hpp"
#include "daemon/supervisor/exit_recorder.hpp"
#include "daemon/supervisor/health_checks.hpp"
#include "daemon/supervisor/instance_control.hpp"
#include "daemon/supervisor/launcher.hpp"
#include "daemon/supervisor/logs_verb.hpp"
#include "daemon/supervisor/registry.hpp"
#include "daemon/supervisor/restart_triggers.hpp"
#include "daemon/supervisor/run_replacer.hpp"
#include "daemon/supervisor/scale_verb.hpp"
#include "daemon/supervisor/settle_waiters.hpp"
#include "daemon/supervisor/start_order.hpp"
#include "daemon/supervisor/start_verb.hpp"
#include "daemon/supervisor/state_writer.hpp"
#include "daemon/supervisor/update_verb.hpp"
#include "daemon/supervisor/usage_sampler.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

class Supervisor : private InstanceControl {
 public:
  /// processes is the process layer (SystemProcessOps, or a fake in unit tests), timers the
  /// clocks and deadlines (AsioTimers, or a fake whose time the test moves: the state machine is
  /// told its now() too); both must outlive the supervisor.
  Supervisor(boost::asio::io_context& io, DaemonOptions options, ControlServer& server, ProcessOps& processes,
             Timers& timers);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Adopts what the state file records, installs the signal handlers and the verbs, and
  /// starts reaping and the sampling timer.
  void start();

  /// The instance with pm_id id, or nullptr (for tests: the verbs are the interface).
  const Instance* instance(int id) const;
  /// The app of this name, or nullptr (for tests).
  const App* app(const std::string& name) const;

 private:
  using json = ipc::json;
  // Effects and events.
  /// A health check's verdict on in: healthy, or unhealthy (in cluster mode, replaced as a
  /// reload replaces it, when that restart does not reach max_restarts; else restarted).
  void health_verdict(Instance& in, Event event);
  void apply(Instance& in, const Effects& fx);
  void do_spawn(Instance& in);
  /// The exec succeeded: online now, or once the app is ready (listen_timeout armed).
  void spawned(Instance& in);
  /// The run with this pid (current or reload's replacement) said it is ready (how: for the log).
  void ready(Instance& in, pid_t pid, const char* how);
  /// restart/reload's env and app_env params, applied to ids (both checked first).
  std::optional<ipc::RpcError> update_env(const json& params, const std::vector<int>& ids);

  // Reload (daemon/supervisor/reload.cpp).
  void reload_verb(const json& params, const std::vector<int>& ids, const Reply& reply);
  /// A reload in progress: the cluster-mode instances replaced one at a time.
  struct ReloadPlan {
    std::vector<int> ids;      ///< every target, answered together at the end
    std::vector<int> rolling;  ///< the online cluster-mode ones, in pm_id order
    std::size_t next = 0;
    Reply reply;
    EntryShape shape;  ///< of the entries answered (brief: the CLI's)
  };
  /// Replaces the plan's next instance once the previous one has taken over; a replacement
  /// that fails ends the reload with an error naming it.
  void reload_next(std::shared_ptr<ReloadPlan> plan);

  /// An sd_notify datagram: from an instance's leader or one of its descendants.
  void on_notify(const Notification& n);
  /// A message from one of a Node instance's IPC channels (its current run's or reload's
  /// replacement's).
  void on_node_message(Instance& in, NodeChannel& channel, const NodeMessage& msg);
  /// Arms in's one deadline: event is fed to the state machine after the delay.
  void arm_deadline(Instance& in, Millis after, Event event);
  /// listen_timeout passed and the run never said it was ready: online anyway, said so.
  void ready_timed_out(Instance& in);
  void wait_signals();
  /// A child was reaped: routes it to its instance.
  void on_exit(pid_t pid, ExitStatus exit);
  /// After a batch of reaped children: clears away emptied cgroups, answers settled waiters.
  void after_reaping();
  /// The leader of in (pid) has ended, reaped by us or seen through its pidfd.
  void leader_exited(Instance& in, pid_t pid, ExitStatus exit);

  /// Binds every verb to its handler (verb_table.cpp).
  void register_verbs();
  // InstanceControl, for the verbs' parts.
  int add_instance(const config::AppSpec& spec, std::shared_ptr<const config::Env> caller_env, int id) override;
  Instance& insert(std::unique_ptr<Instance> in) override;
  void start_registered(const std::vector<int>& ids) override;
  void dispatch(Instance& in, Event event, ExitStatus exit) override;
  using InstanceControl::dispatch;
  void remove(int id) override;
  std::string describe_all(const std::vector<int>& ids, EntryShape shape) override;

  void stop_all_then(std::function<void()> done);
  /// Stops ids in StartOrder's waves, dependents first, each wave once stopped and quiet; then
  /// done (daemon/supervisor/ordered_stop.cpp).
  void stop_in_order(const std::vector<int>& ids, std::function<void()> done);
  struct StopPlan;
  void stop_next_wave(std::shared_ptr<StopPlan> plan);
  /// Forgets the on-disk traces of a clean exit: nothing is left to adopt.
  void forget_state();

  boost::asio::io_context& io_;
  DaemonOptions options_;
  ControlServer& server_;
  ProcessOps& processes_;
  Timers& timers_;
  boost::asio::signal_set signals_;
  Registry registry_;  ///< the apps, their instances by pm_id, the leaders by pid
  EnvPool envs_;       ///< the callers' environments, one copy of each
  SettleWaiters waiters_;  ///< replies held until their instances settle
  /// The sd_notify socket every instance finds in NOTIFY_SOCKET (notify_socket_path).
  NotifySocket notify_;
  AppSockets sockets_;  ///< cluster-mode apps' sockets: bound, handed to the preload, released
  Launcher launcher_;  ///< starts and stops runs; owns their output, sinks and credentials
  BackgroundWriter writer_;  ///< the dump's fsynced writes, off the loop
  StateWriter state_;  ///< state.json, written after every change that matters
  RestartTriggers restart_triggers_;  ///< cron_restart's timers and the apps' file watchers
  UsageSampler sampler_;  ///< memory and CPU read every tick, memory limits checked
  AppMessages app_messages_;  ///< trigger's actions and replies, sendData, process:msg
  RunReplacer replacer_;  ///< a reload's step: the replacement beside the online run
  ExitRecorder exits_;  ///< why each run ended (last_exit_reason, instance.exit events)
  HealthChecks health_;  ///< the health probes of the online instances
  StartOrder start_order_;  ///< depends_on: instances held until what they depend on is ready
  Adopter adopter_;  ///< the state file's instances found again at start
  // The verbs with parts of their own (the others are in the verbs' table, verb_table.cpp).
  StartVerb start_verb_;
  ScaleVerb scale_verb_;
  LogsVerb logs_verb_;
  DumpVerbs dumps_;
  UpdateVerb update_verb_;
  /// Prometheus' GET /metrics at pmx.yaml's metrics.listen (off unless set).
  MetricsEndpoint metrics_endpoint_;
  /// Serves metrics at pmx.yaml's metrics.listen (or stops); the error, "" when none.
  std::string listen_metrics();
  /// What pmxd as a whole is doing. Once it shuts down (kill, SIGTERM, SIGINT: every app is
  /// stopped, then pmxd exits) nothing starts again: the verbs that start processes are
  /// refused, cron, watch and memory restarts are ignored, and the state machine takes no
  /// start or restart event. A process started then would outlive pmxd, owned by nobody.
  enum class Lifecycle { Running, ShuttingDown };
  Lifecycle lifecycle_ = Lifecycle::Running;
  bool shutting_down() const override { return lifecycle_ == Lifecycle::ShuttingDown; }
};

}  // namespace pmx::daemon
