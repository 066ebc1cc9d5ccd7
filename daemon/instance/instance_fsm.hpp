// InstanceFsm: the pure state machine of one app instance. The only place a status changes.
//
// The transition table is data (kRows in instance_fsm.cpp): rows of (from states, events,
// guard) -> (to state, effects), tried in order; the first row whose guard holds wins. Pairs
// with no row are no-ops (handle() returns empty Effects). No clock, syscall or Asio in here:
// time comes in as an argument, effects go out for the supervisor to carry out. The table
// below is describe_table()'s output; a unit test keeps it, and docs/architecture.md's copy,
// equal to the code.
//
// <transition-table>
// | from                                       | event [guard]                                      | to                   | effects                                                             |
// |--------------------------------------------|----------------------------------------------------|----------------------|---------------------------------------------------------------------|
// | stopped, waiting_restart, errored          | start, restart                                     | launching            | cancel timers (waiting_restart), spawn, reset unstable count        |
// | stopped                                    | adopted                                            | online               |                                                                     |
// | launching                                  | spawned                                            | online               |                                                                     |
// | launching, online                          | spawn_failed, exited [no_autorestart_or_stop_code] | stopped              | kill rest                                                           |
// | launching, online                          | spawn_failed, exited [unstable_limit_reached]      | errored              | kill rest, count exit                                               |
// | launching, online                          | spawn_failed, exited [restart_now]                 | launching            | kill rest, spawn (restart + 1), count exit, backoff                 |
// | launching, online                          | spawn_failed, exited [otherwise]                   | waiting_restart      | kill rest, arm restart timer, count exit, backoff                   |
// | waiting_restart                            | restart_timer                                      | launching            | cancel timers, spawn (restart + 1)                                  |
// | launching, online                          | stop                                               | stopping             | stop signal, arm kill timer                                         |
// | online                                     | restart, memory_exceeded                           | restarting           | stop signal, arm kill timer                                         |
// | restarting, restarting_unhealthy           | stop                                               | stopping             |                                                                     |
// | stopping, restarting, restarting_unhealthy | kill_timeout                                       | (same)               | SIGKILL all                                                         |
// | stopping                                   | spawn_failed, exited                               | stopped              | cancel timers, kill rest                                            |
// | stopping                                   | spawn_cancelled                                    | stopped              | cancel timers                                                       |
// | restarting                                 | spawn_failed, exited                               | launching            | cancel timers, kill rest, spawn (restart + 1), reset unstable count |
// | waiting_restart, errored                   | stop                                               | stopped              | cancel timers (waiting_restart)                                     |
// | online                                     | unhealthy                                          | restarting_unhealthy | stop signal, arm kill timer, count unstable restart                 |
// | online                                     | healthy                                            | (same)               | reset unstable count                                                |
// | restarting_unhealthy                       | spawn_failed, exited [unhealthy_limit_reached]     | errored              | cancel timers, kill rest                                            |
// | restarting_unhealthy                       | spawn_failed, exited                               | launching            | cancel timers, kill rest, spawn (restart + 1)                       |
// | online                                     | replaced                                           | online               | new run (restart + 1), reset unstable count                         |
// | online                                     | replaced_unhealthy                                 | online               | new run (restart + 1), count unstable restart                       |
// </transition-table>
//
// Guards: no_autorestart_or_stop_code: autorestart is off, or the code is a stop_exit_code
// (a signal, an unknown code or a failed spawn is never one). unstable_limit_reached: the run
// lasted less than min_uptime and makes max_restarts unstable exits in a row.
// unhealthy_limit_reached: the unstable restarts in a row, health restarts included, have
// reached max_restarts. restart_now: the next restart delay is 0. otherwise: always.
// Effects: "cancel timers" is not written in the rows but derived: set_state() cancels the
// timers the old state owned and the new one does not (the kill timer belongs to stopping,
// restarting and restarting_unhealthy, the restart timer to waiting_restart). "kill rest" is skipped for spawn_failed
// (nothing ran). Counters: "count exit" counts an unstable run (less than min_uptime), resets
// the consecutive count after a stable one and, after a run of 30 s, the backoff; "backoff"
// records the delay chosen; "count unstable restart" counts one whatever the uptime (health).
// Durations and counters saturate: no overflow whatever the policy.
// Adoption after a daemon crash: restore() the persisted counters, then feed adopted; the
// adopted process's exit comes as exited with ExitStatus::unknown and restarts like a crash.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/app_spec.hpp"
#include "daemon/process/exit_status.hpp"

namespace pmx::daemon {

/// RestartingUnhealthy: restarting because the health check found the run unhealthy; shown
/// as "stopping" like restarting, but its end counts toward max_restarts.
enum class State { Stopped, Launching, Online, Stopping, Restarting, WaitingRestart, Errored, RestartingUnhealthy };

enum class Event {
  Start,
  Stop,
  Restart,
  Spawned,
  SpawnFailed,
  Exited,
  KillTimeout,
  RestartTimer,
  MemoryExceeded,
  Adopted,  ///< a new pmxd found the instance's process still running after a daemon crash
  Replaced,  ///< reload: a replacement run became ready and took over from the running one
  /// A stop took the instance's spawn out of the queue of spawns waiting for a slot
  /// (SpawnQueue) before anything was forked.
  SpawnCancelled,
  /// The health check counted `retries` consecutive failures of the online run.
  Unhealthy,
  /// A health probe passed: the run is healthy, the count of unstable restarts starts again.
  Healthy,
  /// Cluster mode: a replacement started beside the unhealthy run took over from it.
  ReplacedUnhealthy,
};

/// Every state, in declaration order (for exhaustive tests).
inline constexpr State kAllStates[] = {State::Stopped,    State::Launching,      State::Online,
                                       State::Stopping,   State::Restarting,     State::WaitingRestart,
                                       State::Errored,   State::RestartingUnhealthy};
/// Every event, in declaration order (for exhaustive tests).
inline constexpr Event kAllEvents[] = {Event::Start,       Event::Stop,         Event::Restart,
                                       Event::Spawned,     Event::SpawnFailed,  Event::Exited,
                                       Event::KillTimeout, Event::RestartTimer, Event::MemoryExceeded,
                                       Event::Adopted,     Event::Replaced,     Event::SpawnCancelled,
                                       Event::Unhealthy,   Event::Healthy,      Event::ReplacedUnhealthy};

/// Internal name of a state ("waiting_restart").
const char* to_string(State s);
/// The state named name (as to_string spells it).
std::optional<State> state_from_string(const std::string& name);
/// The status PM2 users see for a state ("waiting restart").
const char* status_name(State s);
/// Name of an event ("kill_timeout").
const char* to_string(Event e);
/// Not on its way to another state (launching, stopping, restarting): what a reply to start,
/// restart or scale waits for.
bool is_settled(State s);
/// Stopped or errored: no run wanted until someone starts it again.
bool is_stopped(State s);

/// One transition, as published to the state file and to subscribers.
struct Transition {
  State from = State::Stopped;
  State to = State::Stopped;  ///< equal to from for the row that keeps the state (kill_timeout)
  Event event = Event::Start;
  std::string reason;
};

/// What the supervisor must do after a transition, in this order:
/// cancel timers, signal, kill rest, spawn, arm timers.
struct Effects {
  bool changed = false;           ///< a row with a target state fired (launching -> launching too)
  bool cancel_timers = false;
  int signal = 0;                 ///< send to every process of the instance (0: none)
  bool kill_rest = false;         ///< SIGKILL whatever of the instance outlived its leader
  bool spawn = false;
  std::optional<Millis> arm_kill_timer;
  std::optional<Millis> arm_restart_timer;
  std::optional<Transition> transition;  ///< set whenever a row of the table fired
};

/// The longest timer the machine arms: 2^31 - 1 ms (about 24.8 days), the limit of Node's
/// setTimeout, so no PM2 setting ever meant more. Longer delays and kill timeouts are clamped.
inline constexpr Millis kMaxTimer{2'147'483'647};

/// Restart policy: the part of AppSpec the machine reads.
struct Policy {
  bool autorestart = true;
  int max_restarts = 16;
  Millis min_uptime{1000};
  Millis restart_delay{0};
  Millis exp_backoff{0};
  Millis exp_backoff_max{15000};
  std::vector<int> stop_exit_codes;
  Millis kill_timeout{1600};
  int kill_signal = 2;

  /// Reads the options of spec; millisecond counts beyond Millis' range saturate.
  static Policy from(const config::AppSpec& spec);
};

/// How long a run must last for the exponential backoff to start again from its first delay.
inline constexpr Millis kBackoffResetUptime{30'000};

/// The transition table as markdown rows (header, separator, one line per row, each ending
/// in '\n'), exactly as in this header's comment and docs/architecture.md.
std::string describe_table();

/// Whether the table has a row for (state, event): events on other pairs are no-ops, and a
/// verb on them can be refused as invalid in this state.
bool has_row(State state, Event event);

class InstanceFsm {
 public:
  explicit InstanceFsm(Policy policy) : policy_(std::move(policy)) {}

  /// Feeds one event. exit is read for Exited (its ran_for, when set, is the run's uptime: the
  /// process's own, not pmxd's clock); now is the time the event happened.
  Effects handle(Event event, TimePoint now, ExitStatus exit = {});

  State state() const { return state_; }
  const Policy& policy() const { return policy_; }
  void set_policy(Policy p) { policy_ = std::move(p); }

  int restart_count() const { return restart_count_; }
  int unstable_restarts() const { return unstable_restarts_; }
  int consecutive_unstable() const { return consecutive_unstable_; }
  Millis prev_restart_delay() const { return prev_restart_delay_; }
  TimePoint started_at() const { return started_at_; }
  /// Why the last transition happened ("exited with code 1", "memory limit exceeded", "stop").
  const std::string& reason() const { return reason_; }
  /// The state before the last transition.
  State previous() const { return previous_; }

  /// Zeroes the counters (pmx reset).
  void reset_counters();
  /// Puts back counters persisted by an earlier pmxd (adoption after a daemon crash), before
  /// Event::Adopted. Negative counts are taken as 0. resting is the state to come back in
  /// when the instance was not running: errored stays errored, anything else is stopped.
  void restore(int restart_count, int unstable_restarts, int consecutive_unstable,
               TimePoint started_at, Millis prev_restart_delay = Millis(0),
               State resting = State::Stopped);

 private:
  void set_state(State next, Event event, std::string reason, Effects& fx);
  /// A row that keeps the state (kill_timeout): the reason and the transition, no change.
  void keep_state(Event event, std::string reason, Effects& fx);

  Policy policy_;
  State state_ = State::Stopped;
  State previous_ = State::Stopped;
  std::string reason_;
  int restart_count_ = 0;
  int unstable_restarts_ = 0;
  int consecutive_unstable_ = 0;
  Millis prev_restart_delay_{0};
  TimePoint started_at_{};
};

}  // namespace pmx::daemon
