// InstanceFsm: the pure state machine of one app instance. The only place a status changes.
//
// Rows are tried in order; the first whose guard holds wins. Pairs not listed are no-ops
// (handle() returns Effects with changed == false). No clock, syscall or Asio in here: time
// comes in as an argument, effects go out for the supervisor to carry out.
//
// | from                              | event [guard]                         | to              | effects                          |
// |-----------------------------------|---------------------------------------|-----------------|----------------------------------|
// | stopped, errored, waiting_restart | start, restart                        | launching       | cancel timers, spawn             |
// | launching                         | spawned                               | online          |                                  |
// | launching, online                 | exited [no autorestart / stop code]   | stopped         | kill rest                        |
// | launching, online                 | exited [unstable count = max]         | errored         | kill rest                        |
// | launching, online                 | exited [delay = 0]                    | launching       | kill rest, spawn (restart + 1)   |
// | launching, online                 | exited [else]                         | waiting_restart | kill rest, arm restart timer     |
// | waiting_restart                   | restart_timer                         | launching       | spawn (restart + 1)              |
// | launching, online                 | stop                                  | stopping        | stop signal, arm kill timer      |
// | online                            | restart, memory_exceeded              | restarting      | stop signal, arm kill timer      |
// | restarting                        | stop                                  | stopping        |                                  |
// | stopping, restarting              | kill_timeout                          | (same)          | SIGKILL all                      |
// | stopping                          | exited                                | stopped         | cancel timers, kill rest         |
// | restarting                        | exited                                | launching       | cancel timers, kill rest, spawn (restart + 1) |
// | waiting_restart, errored          | stop                                  | stopped         | cancel timers                    |
//
// spawn_failed (fork itself failed) takes the rows of exited. An exit is unstable when the
// run lasted less than min_uptime; a stable run resets the consecutive count, a run of 30 s
// or more resets the exponential backoff.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/app_spec.hpp"

namespace pmx::daemon {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

enum class State { Stopped, Launching, Online, Stopping, Restarting, WaitingRestart, Errored };

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
  Adopted,
};

/// Every state, in declaration order (for exhaustive tests).
inline constexpr State kAllStates[] = {State::Stopped,    State::Launching,      State::Online,
                                       State::Stopping,   State::Restarting,     State::WaitingRestart,
                                       State::Errored};
inline constexpr Event kAllEvents[] = {Event::Start,       Event::Stop,         Event::Restart,
                                       Event::Spawned,     Event::SpawnFailed,  Event::Exited,
                                       Event::KillTimeout, Event::RestartTimer, Event::MemoryExceeded,
                                       Event::Adopted};

/// Internal name of a state ("waiting_restart").
const char* to_string(State s);
/// The state named name (as to_string(State) spells it).
std::optional<State> state_from_string(const std::string& name);
/// The status PM2 users see for a state ("waiting restart").
const char* status_name(State s);
const char* to_string(Event e);

/// How the leader process ended, as waitpid reported it.
struct ExitStatus {
  int code = 0;    ///< exit code when exited normally
  int signal = 0;  ///< terminating signal, 0 when exited normally
  bool unknown = false;  ///< the leader was not pmxd's child (adopted): code and signal unknown
};

/// What the supervisor must do after a transition, in this order:
/// cancel timers, signal, kill rest, spawn, arm timers.
struct Effects {
  bool changed = false;           ///< the state changed
  bool cancel_timers = false;
  int signal = 0;                 ///< send to every process of the instance (0: none)
  bool kill_rest = false;         ///< SIGKILL whatever of the instance outlived its leader
  bool spawn = false;
  std::optional<Millis> arm_kill_timer;
  std::optional<Millis> arm_restart_timer;
};

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

  static Policy from(const config::AppSpec& spec);
};

/// How long a run must last for the exponential backoff to start again from its first delay.
inline constexpr Millis kBackoffResetUptime{30'000};

class InstanceFsm {
 public:
  explicit InstanceFsm(Policy policy) : policy_(std::move(policy)) {}

  /// Feeds one event. exit is read for Exited; now is the time the event happened.
  Effects handle(Event event, TimePoint now, ExitStatus exit = {});

  State state() const { return state_; }
  const Policy& policy() const { return policy_; }
  void set_policy(Policy p) { policy_ = std::move(p); }

  int restart_count() const { return restart_count_; }
  int unstable_restarts() const { return unstable_restarts_; }
  int consecutive_unstable() const { return consecutive_unstable_; }
  Millis prev_restart_delay() const { return prev_restart_delay_; }
  TimePoint started_at() const { return started_at_; }
  /// Why the last transition happened ("exited with code 1", "memory limit", "stop").
  const std::string& reason() const { return reason_; }
  /// The state before the last transition.
  State previous() const { return previous_; }

  /// Zeroes the counters (pmx reset).
  void reset_counters();
  /// Puts back what a state file kept (a new pmxd taking over from a dead one): the counters,
  /// and the state when it is a resting one (stopped or errored; anything else restores as
  /// stopped, and the supervisor feeds `adopted` or `exited` from there).
  void restore(State resting, int restart_count, int unstable_restarts, int consecutive_unstable,
               Millis prev_restart_delay, TimePoint started_at);

 private:
  Effects on_exit(TimePoint now, ExitStatus exit, bool spawn_failed);
  Effects begin_spawn(Effects fx, TimePoint now, bool counts_as_restart);
  Millis next_restart_delay();
  void set_state(State next, std::string reason, Effects& fx);

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
