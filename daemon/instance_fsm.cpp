// InstanceFsm: the transition table of instance_fsm.hpp, row by row.
#include "daemon/instance_fsm.hpp"

#include <algorithm>

namespace pmx::daemon {
namespace {

struct StateName {
  State state;
  const char* name;
  const char* status;
};

constexpr StateName kStateNames[] = {
    {State::Stopped, "stopped", "stopped"},
    {State::Launching, "launching", "launching"},
    {State::Online, "online", "online"},
    {State::Stopping, "stopping", "stopping"},
    {State::Restarting, "restarting", "stopping"},
    {State::WaitingRestart, "waiting_restart", "waiting restart"},
    {State::Errored, "errored", "errored"},
};

bool is_running(State s) { return s == State::Launching || s == State::Online; }

std::string describe_exit(ExitStatus e) {
  if (e.unknown) return "exited (code unknown)";
  if (e.signal != 0) return "killed by " + config::signal_name(e.signal);
  return "exited with code " + std::to_string(e.code);
}

}  // namespace

std::optional<State> state_from_string(const std::string& name) {
  for (const auto& n : kStateNames) {
    if (name == n.name) return n.state;
  }
  return std::nullopt;
}

const char* to_string(State s) {
  for (const auto& n : kStateNames) {
    if (n.state == s) return n.name;
  }
  return "?";
}

const char* status_name(State s) {
  for (const auto& n : kStateNames) {
    if (n.state == s) return n.status;
  }
  return "?";
}

const char* to_string(Event e) {
  switch (e) {
    case Event::Start: return "start";
    case Event::Stop: return "stop";
    case Event::Restart: return "restart";
    case Event::Spawned: return "spawned";
    case Event::SpawnFailed: return "spawn_failed";
    case Event::Exited: return "exited";
    case Event::KillTimeout: return "kill_timeout";
    case Event::RestartTimer: return "restart_timer";
    case Event::MemoryExceeded: return "memory_exceeded";
    case Event::Adopted: return "adopted";
  }
  return "?";
}

Policy Policy::from(const config::AppSpec& spec) {
  Policy p;
  p.autorestart = spec.autorestart;
  p.max_restarts = spec.max_restarts;
  p.min_uptime = Millis(spec.min_uptime_ms);
  p.restart_delay = Millis(spec.restart_delay_ms);
  p.exp_backoff = Millis(spec.exp_backoff_restart_delay_ms);
  p.exp_backoff_max = Millis(spec.exp_backoff_max_ms);
  p.stop_exit_codes = spec.stop_exit_codes;
  p.kill_timeout = Millis(spec.kill_timeout_ms);
  p.kill_signal = config::signal_from_name(spec.kill_signal);
  return p;
}

void InstanceFsm::reset_counters() {
  restart_count_ = 0;
  unstable_restarts_ = 0;
  consecutive_unstable_ = 0;
  prev_restart_delay_ = Millis(0);
}

void InstanceFsm::restore(State resting, int restart_count, int unstable_restarts, int consecutive_unstable,
                          Millis prev_restart_delay, TimePoint started_at) {
  state_ = previous_ = resting == State::Errored ? State::Errored : State::Stopped;
  restart_count_ = restart_count;
  unstable_restarts_ = unstable_restarts;
  consecutive_unstable_ = consecutive_unstable;
  prev_restart_delay_ = prev_restart_delay;
  started_at_ = started_at;
}

void InstanceFsm::set_state(State next, std::string reason, Effects& fx) {
  previous_ = state_;
  state_ = next;
  reason_ = std::move(reason);
  fx.changed = true;
}

Effects InstanceFsm::begin_spawn(Effects fx, TimePoint now, bool counts_as_restart) {
  if (counts_as_restart) ++restart_count_;
  started_at_ = now;
  fx.spawn = true;
  return fx;
}

Millis InstanceFsm::next_restart_delay() {
  if (policy_.exp_backoff.count() == 0) return policy_.restart_delay;
  Millis next = prev_restart_delay_.count() == 0
                    ? policy_.exp_backoff
                    : Millis(prev_restart_delay_.count() * 3 / 2);
  return std::min(next, std::max(policy_.exp_backoff_max, policy_.exp_backoff));
}

Effects InstanceFsm::on_exit(TimePoint now, ExitStatus exit, bool spawn_failed) {
  Effects fx;
  fx.kill_rest = !spawn_failed;
  const std::string what = spawn_failed ? std::string("spawn failed") : describe_exit(exit);
  const auto uptime = std::chrono::duration_cast<Millis>(now - started_at_);

  const bool stop_code =
      exit.signal == 0 && !spawn_failed &&
      std::find(policy_.stop_exit_codes.begin(), policy_.stop_exit_codes.end(), exit.code) !=
          policy_.stop_exit_codes.end();
  if (!policy_.autorestart || stop_code) {
    // ONLINE -> STOPPED
    set_state(State::Stopped, what + (stop_code ? " (a stop exit code)" : " (autorestart off)"), fx);
    return fx;
  }

  const bool unstable = uptime < policy_.min_uptime;
  if (unstable) {
    ++unstable_restarts_;
    ++consecutive_unstable_;
  } else {
    consecutive_unstable_ = 0;
  }
  if (uptime >= kBackoffResetUptime) prev_restart_delay_ = Millis(0);

  // Only an unstable exit can end in errored: a run that lasted min_uptime is always restarted.
  if (unstable && consecutive_unstable_ >= policy_.max_restarts) {
    // ONLINE -> ERRORED
    set_state(State::Errored,
              what + ", " + std::to_string(consecutive_unstable_) +
                  " unstable restarts in a row (max_restarts " +
                  std::to_string(policy_.max_restarts) + ")",
              fx);
    return fx;
  }

  const Millis delay = next_restart_delay();
  prev_restart_delay_ = delay;
  if (delay.count() == 0) {
    // ONLINE -> LAUNCHING
    set_state(State::Launching, what + ", restarting", fx);
    return begin_spawn(fx, now, true);
  }
  // ONLINE -> WAITING_RESTART
  set_state(State::WaitingRestart,
            what + ", restarting in " + std::to_string(delay.count()) + " ms", fx);
  fx.arm_restart_timer = delay;
  return fx;
}

Effects InstanceFsm::handle(Event event, TimePoint now, ExitStatus exit) {
  Effects fx;
  const State s = state_;
  switch (event) {
    case Event::Start:
    case Event::Restart:
      if (s == State::Stopped || s == State::Errored || s == State::WaitingRestart) {
        // STOPPED -> LAUNCHING
        consecutive_unstable_ = 0;
        fx.cancel_timers = true;
        set_state(State::Launching, to_string(event), fx);
        return begin_spawn(fx, now, false);
      }
      if (event == Event::Restart && s == State::Online) {
        // ONLINE -> RESTARTING
        set_state(State::Restarting, "restart", fx);
        fx.signal = policy_.kill_signal;
        fx.arm_kill_timer = policy_.kill_timeout;
        return fx;
      }
      return fx;

    case Event::MemoryExceeded:
      if (s == State::Online) {
        // ONLINE -> RESTARTING
        set_state(State::Restarting, "memory limit exceeded", fx);
        fx.signal = policy_.kill_signal;
        fx.arm_kill_timer = policy_.kill_timeout;
      }
      return fx;

    case Event::Spawned:
      // LAUNCHING -> ONLINE
      if (s == State::Launching) set_state(State::Online, "spawned", fx);
      return fx;

    case Event::Exited:
    case Event::SpawnFailed: {
      const bool failed = event == Event::SpawnFailed;
      if (is_running(s)) return on_exit(now, exit, failed);
      if (s == State::Stopping) {
        // STOPPING -> STOPPED
        fx.cancel_timers = true;
        fx.kill_rest = !failed;
        set_state(State::Stopped, failed ? "spawn failed" : describe_exit(exit), fx);
        return fx;
      }
      if (s == State::Restarting) {
        // RESTARTING -> LAUNCHING
        fx.cancel_timers = true;
        fx.kill_rest = !failed;
        consecutive_unstable_ = 0;
        set_state(State::Launching, "restart", fx);
        return begin_spawn(fx, now, true);
      }
      return fx;
    }

    case Event::Stop:
      if (is_running(s)) {
        // ONLINE -> STOPPING
        set_state(State::Stopping, "stop", fx);
        fx.signal = policy_.kill_signal;
        fx.arm_kill_timer = policy_.kill_timeout;
        return fx;
      }
      if (s == State::Restarting) {
        // RESTARTING -> STOPPING (the kill timer armed for the restart stays)
        set_state(State::Stopping, "stop", fx);
        return fx;
      }
      if (s == State::WaitingRestart || s == State::Errored) {
        // WAITING_RESTART -> STOPPED
        fx.cancel_timers = true;
        set_state(State::Stopped, "stop", fx);
        return fx;
      }
      return fx;

    case Event::KillTimeout:
      if (s == State::Stopping || s == State::Restarting) {
        fx.signal = 9;  // SIGKILL, every process of the instance
        reason_ = "kill_timeout elapsed, SIGKILL";
      }
      return fx;

    case Event::Adopted:
      // STOPPED -> ONLINE: a new pmxd found the instance's process still running
      if (s == State::Stopped) set_state(State::Online, "adopted", fx);
      return fx;

    case Event::RestartTimer:
      if (s == State::WaitingRestart) {
        // WAITING_RESTART -> LAUNCHING
        set_state(State::Launching, "restart delay elapsed", fx);
        return begin_spawn(fx, now, true);
      }
      return fx;
  }
  return fx;
}

}  // namespace pmx::daemon
