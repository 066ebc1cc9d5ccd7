// InstanceFsm: the transition table of instance_fsm.hpp as data, and the one function that
// carries out a row.
#include "daemon/instance/instance_fsm.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <limits>

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
    {State::RestartingUnhealthy, "restarting_unhealthy", "stopping"},
};

// ---- Saturating arithmetic ----------------------------------------------------------------------

constexpr auto kMaxCount = std::numeric_limits<Millis::rep>::max();

Millis clamp_timer(Millis d) { return std::clamp(d, Millis(0), kMaxTimer); }

// d × 1.5, rounded down, saturating at the largest Millis.
Millis grow(Millis d) {
  const Millis::rep n = std::max<Millis::rep>(d.count(), 0);
  const Millis::rep half = n / 2;
  return Millis(n > kMaxCount - half ? kMaxCount : n + half);
}

void bump(int& counter) {
  if (counter < INT_MAX) ++counter;
}

// now - then in milliseconds, saturating (a restored started_at may be anything); never negative.
Millis elapsed(TimePoint then, TimePoint now) {
  using Nanos = Clock::duration;
  Nanos::rep diff = 0;
  if (__builtin_sub_overflow(now.time_since_epoch().count(), then.time_since_epoch().count(),
                             &diff)) {
    diff = now >= then ? std::numeric_limits<Nanos::rep>::max() : 0;
  }
  return std::chrono::duration_cast<Millis>(Nanos(std::max<Nanos::rep>(diff, 0)));
}

// ---- What the guards and reasons read ----------------------------------------------------------

// Everything a row's guard or reason needs, computed once per event without touching the machine.
struct Facts {
  Event event;
  ExitStatus exit;
  const Policy* policy;
  bool spawn_failed;
  bool unstable;          // the run lasted less than min_uptime
  int consecutive_after;  // consecutive unstable exits if this exit is counted
  int consecutive_now;    // consecutive unstable exits counted so far (health restarts included)
  bool stop_code;         // exited normally with one of stop_exit_codes
  Millis delay;           // the restart delay this exit would get
};

// ---- Guards -------------------------------------------------------------------------------------

struct Guard {
  const char* name;
  bool (*holds)(const Facts&);
};

constexpr Guard no_autorestart_or_stop_code{
    "no_autorestart_or_stop_code", [](const Facts& f) { return !f.policy->autorestart || f.stop_code; }};
constexpr Guard unstable_limit_reached{"unstable_limit_reached", [](const Facts& f) {
                                         return f.unstable && f.consecutive_after >= f.policy->max_restarts;
                                       }};
constexpr Guard unhealthy_limit_reached{"unhealthy_limit_reached", [](const Facts& f) {
                                          return f.consecutive_now >= f.policy->max_restarts;
                                        }};
constexpr Guard restart_now{"restart_now", [](const Facts& f) { return f.delay.count() == 0; }};
constexpr Guard otherwise{"otherwise", [](const Facts&) { return true; }};

// ---- Reasons ------------------------------------------------------------------------------------

std::string what_ended(const Facts& f) {
  if (f.spawn_failed) return "spawn failed";
  if (f.exit.unknown) return "exited (code unknown)";
  if (f.exit.signal != 0) return "killed by " + config::signal_name(f.exit.signal);
  return "exited with code " + std::to_string(f.exit.code);
}

std::string by_event(const Facts& f) {
  switch (f.event) {
    case Event::MemoryExceeded: return "memory limit exceeded";
    case Event::RestartTimer: return "restart delay elapsed";
    case Event::KillTimeout: return "kill_timeout elapsed, SIGKILL";
    case Event::Replaced: return "reloaded";
    case Event::SpawnCancelled: return "stopped before its spawn's turn came";
    case Event::Unhealthy: return "health check failed, restarting";
    case Event::ReplacedUnhealthy: return "health check failed, replaced";
    default: return to_string(f.event);
  }
}

std::string exit_stopped(const Facts& f) {
  return what_ended(f) + (f.stop_code ? " (a stop exit code)" : " (autorestart off)");
}

std::string exit_errored(const Facts& f) {
  return what_ended(f) + ", " + std::to_string(f.consecutive_after) +
         " unstable restarts in a row (max_restarts " + std::to_string(f.policy->max_restarts) + ")";
}

std::string exit_restarting(const Facts& f) { return what_ended(f) + ", restarting"; }

std::string exit_waiting(const Facts& f) {
  return what_ended(f) + ", restarting in " + std::to_string(f.delay.count()) + " ms";
}

std::string user_restart(const Facts&) { return "restart"; }

std::string health_restart(const Facts& f) { return what_ended(f) + " after failing its health check, restarting"; }

std::string health_errored(const Facts& f) {
  return what_ended(f) + " after failing its health check, " + std::to_string(f.consecutive_now) +
         " unstable restarts in a row (max_restarts " + std::to_string(f.policy->max_restarts) + ")";
}

// ---- Rows ---------------------------------------------------------------------------------------

enum class Signal : std::uint8_t { None, Stop, Kill };
// Restart counts one restart. TookOver: no spawn (reload started the run beside the old one),
// but the new run counts one restart and its uptime starts now.
enum class Spawn : std::uint8_t { None, Start, Restart, TookOver };
enum class Arm : std::uint8_t { None, KillTimer, RestartTimer };
// Exit: unstable accounting and backoff reset. ExitBackoff: the same, and the delay is recorded.
// Unhealthy: one more unstable restart, whatever the uptime.
enum class Count : std::uint8_t { None, ResetUnstable, Exit, ExitBackoff, Unhealthy };

using Mask = std::uint32_t;

constexpr Mask bit(State s) { return Mask{1} << static_cast<unsigned>(s); }
constexpr Mask bit(Event e) { return Mask{1} << static_cast<unsigned>(e); }
template <typename... T>
constexpr Mask of(T... items) {
  return (bit(items) | ...);
}

struct Row {
  Mask from;
  Mask events;
  const Guard* guard;  // nullptr: always
  std::optional<State> to;  // nullopt: the state stays
  Signal signal;
  bool kill_rest;
  Spawn spawn;
  Arm arm;
  Count count;
  std::string (*reason)(const Facts&);
};

using S = State;
using E = Event;
constexpr Mask kRunning = of(S::Launching, S::Online);
constexpr Mask kEnded = of(E::Exited, E::SpawnFailed);

// The order matters: for the same (state, event), the first row whose guard holds wins.
constexpr Row kRows[] = {
    // from states, events, guard (nullptr: always)
    // to                     signal         kill_rest spawn           arm                count                 reason
    {of(S::Stopped, S::Errored, S::WaitingRestart), of(E::Start, E::Restart), nullptr,
     S::Launching,            Signal::None,  false,    Spawn::Start,   Arm::None,         Count::ResetUnstable, by_event},
    {of(S::Stopped), of(E::Adopted), nullptr,
     S::Online,               Signal::None,  false,    Spawn::None,    Arm::None,         Count::None,          by_event},
    {of(S::Launching), of(E::Spawned), nullptr,
     S::Online,               Signal::None,  false,    Spawn::None,    Arm::None,         Count::None,          by_event},
    {kRunning, kEnded, &no_autorestart_or_stop_code,
     S::Stopped,              Signal::None,  true,     Spawn::None,    Arm::None,         Count::None,          exit_stopped},
    {kRunning, kEnded, &unstable_limit_reached,
     S::Errored,              Signal::None,  true,     Spawn::None,    Arm::None,         Count::Exit,          exit_errored},
    {kRunning, kEnded, &restart_now,
     S::Launching,            Signal::None,  true,     Spawn::Restart, Arm::None,         Count::ExitBackoff,   exit_restarting},
    {kRunning, kEnded, &otherwise,
     S::WaitingRestart,       Signal::None,  true,     Spawn::None,    Arm::RestartTimer, Count::ExitBackoff,   exit_waiting},
    {of(S::WaitingRestart), of(E::RestartTimer), nullptr,
     S::Launching,            Signal::None,  false,    Spawn::Restart, Arm::None,         Count::None,          by_event},
    {kRunning, of(E::Stop), nullptr,
     S::Stopping,             Signal::Stop,  false,    Spawn::None,    Arm::KillTimer,    Count::None,          by_event},
    {of(S::Online), of(E::Restart, E::MemoryExceeded), nullptr,
     S::Restarting,           Signal::Stop,  false,    Spawn::None,    Arm::KillTimer,    Count::None,          by_event},
    // The stop signal was sent and the kill timer armed by the restart: nothing more to do.
    {of(S::Restarting, S::RestartingUnhealthy), of(E::Stop), nullptr,
     S::Stopping,             Signal::None,  false,    Spawn::None,    Arm::None,         Count::None,          by_event},
    {of(S::Stopping, S::Restarting, S::RestartingUnhealthy), of(E::KillTimeout), nullptr,
     std::nullopt,            Signal::Kill,  false,    Spawn::None,    Arm::None,         Count::None,          by_event},
    {of(S::Stopping), kEnded, nullptr,
     S::Stopped,              Signal::None,  true,     Spawn::None,    Arm::None,         Count::None,          what_ended},
    // The stop came while the spawn waited for its turn (SpawnQueue): nothing was forked.
    {of(S::Stopping), of(E::SpawnCancelled), nullptr,
     S::Stopped,              Signal::None,  false,    Spawn::None,    Arm::None,         Count::None,          by_event},
    // A restart the user asked for is no unstable exit, however short the run.
    {of(S::Restarting), kEnded, nullptr,
     S::Launching,            Signal::None,  true,     Spawn::Restart, Arm::None,         Count::ResetUnstable, user_restart},
    {of(S::WaitingRestart, S::Errored), of(E::Stop), nullptr,
     S::Stopped,              Signal::None,  false,    Spawn::None,    Arm::None,         Count::None,          by_event},
    // Health: an unhealthy run is restarted gracefully, and counts as an unstable restart until
    // a probe passes (healthy), so a permanently broken app ends errored.
    {of(S::Online), of(E::Unhealthy), nullptr,
     S::RestartingUnhealthy,  Signal::Stop,  false,    Spawn::None,    Arm::KillTimer,    Count::Unhealthy,     by_event},
    {of(S::Online), of(E::Healthy), nullptr,
     std::nullopt,            Signal::None,  false,    Spawn::None,    Arm::None,         Count::ResetUnstable, by_event},
    {of(S::RestartingUnhealthy), kEnded, &unhealthy_limit_reached,
     S::Errored,              Signal::None,  true,     Spawn::None,    Arm::None,         Count::None,          health_errored},
    {of(S::RestartingUnhealthy), kEnded, nullptr,
     S::Launching,            Signal::None,  true,     Spawn::Restart, Arm::None,         Count::None,          health_restart},
    // Reload: the replacement was started beside the running run and is ready; the supervisor
    // stops the old run itself. Online throughout.
    {of(S::Online), of(E::Replaced), nullptr,
     S::Online,               Signal::None,  false,    Spawn::TookOver, Arm::None,        Count::ResetUnstable, by_event},
    // Cluster mode: a replacement started beside the unhealthy run took over, as in a reload;
    // it counts as a health restart (the supervisor restarts in place, through unhealthy,
    // the run whose restart would reach the limit).
    {of(S::Online), of(E::ReplacedUnhealthy), nullptr,
     S::Online,               Signal::None,  false,    Spawn::TookOver, Arm::None,        Count::Unhealthy,     by_event},
};

// The timers a state owns; set_state() cancels those of the old state the new one does not own.
constexpr Mask kKillTimer = 1;
constexpr Mask kRestartTimer = 2;

Mask timers_owned(State s) {
  switch (s) {
    case State::Stopping:
    case State::Restarting:
    case State::RestartingUnhealthy: return kKillTimer;
    case State::WaitingRestart: return kRestartTimer;
    default: return 0;
  }
}

bool cancels_timers(State from, State to) { return (timers_owned(from) & ~timers_owned(to)) != 0; }

bool matches(const Row& row, State s, Event e) { return (row.from & bit(s)) && (row.events & bit(e)); }

// ---- Rendering ----------------------------------------------------------------------------------

std::string names_of_states(Mask m) {
  std::string out;
  for (State s : kAllStates) {
    if (!(m & bit(s))) continue;
    if (!out.empty()) out += ", ";
    out += to_string(s);
  }
  return out;
}

std::string names_of_events(Mask m) {
  std::string out;
  for (Event e : kAllEvents) {
    if (!(m & bit(e))) continue;
    if (!out.empty()) out += ", ";
    out += to_string(e);
  }
  return out;
}

std::string effects_of(const Row& row) {
  std::vector<std::string> parts;
  Mask cancelling = 0;
  for (State s : kAllStates) {
    if ((row.from & bit(s)) && row.to && cancels_timers(s, *row.to)) cancelling |= bit(s);
  }
  if (cancelling == row.from) parts.emplace_back("cancel timers");
  else if (cancelling != 0) parts.emplace_back("cancel timers (" + names_of_states(cancelling) + ")");
  if (row.signal == Signal::Stop) parts.emplace_back("stop signal");
  if (row.signal == Signal::Kill) parts.emplace_back("SIGKILL all");
  if (row.kill_rest) parts.emplace_back("kill rest");
  if (row.spawn == Spawn::Start) parts.emplace_back("spawn");
  if (row.spawn == Spawn::Restart) parts.emplace_back("spawn (restart + 1)");
  if (row.spawn == Spawn::TookOver) parts.emplace_back("new run (restart + 1)");
  if (row.arm == Arm::KillTimer) parts.emplace_back("arm kill timer");
  if (row.arm == Arm::RestartTimer) parts.emplace_back("arm restart timer");
  if (row.count == Count::ResetUnstable) parts.emplace_back("reset unstable count");
  if (row.count == Count::Exit) parts.emplace_back("count exit");
  if (row.count == Count::ExitBackoff) parts.emplace_back("count exit, backoff");
  if (row.count == Count::Unhealthy) parts.emplace_back("count unstable restart");
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
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

bool is_settled(State s) {
  return s != State::Stopping && s != State::Restarting && s != State::Launching &&
         s != State::RestartingUnhealthy;
}

bool is_stopped(State s) { return s == State::Stopped || s == State::Errored; }

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
    case Event::Replaced: return "replaced";
    case Event::SpawnCancelled: return "spawn_cancelled";
    case Event::Unhealthy: return "unhealthy";
    case Event::Healthy: return "healthy";
    case Event::ReplacedUnhealthy: return "replaced_unhealthy";
  }
  return "?";
}

std::string describe_table() {
  using Line = std::array<std::string, 4>;
  std::vector<Line> lines;
  lines.push_back({"from", "event [guard]", "to", "effects"});
  for (const Row& row : kRows) {
    std::string event = names_of_events(row.events);
    if (row.guard) event += std::string(" [") + row.guard->name + "]";
    lines.push_back({names_of_states(row.from), event, row.to ? to_string(*row.to) : "(same)",
                     effects_of(row)});
  }
  std::array<std::size_t, 4> width{};
  for (const Line& l : lines) {
    for (std::size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], l[c].size());
  }
  auto render = [&](const Line& l) {
    std::string out = "|";
    for (std::size_t c = 0; c < 4; ++c) out += " " + l[c] + std::string(width[c] - l[c].size(), ' ') + " |";
    return out + "\n";
  };
  std::string out = render(lines[0]);
  out += "|";
  for (std::size_t c = 0; c < 4; ++c) out += std::string(width[c] + 2, '-') + "|";
  out += "\n";
  for (std::size_t i = 1; i < lines.size(); ++i) out += render(lines[i]);
  return out;
}

bool has_row(State state, Event event) {
  return std::any_of(std::begin(kRows), std::end(kRows),
                     [&](const Row& row) { return matches(row, state, event); });
}

Policy Policy::from(const config::AppSpec& spec) {
  auto millis = [](std::uint64_t ms) {
    return Millis(static_cast<Millis::rep>(std::min<std::uint64_t>(ms, kMaxCount)));
  };
  Policy p;
  p.autorestart = spec.autorestart;
  p.max_restarts = spec.max_restarts;
  p.min_uptime = millis(spec.min_uptime_ms);
  p.restart_delay = millis(spec.restart_delay_ms);
  p.exp_backoff = millis(spec.exp_backoff_restart_delay_ms);
  p.exp_backoff_max = millis(spec.exp_backoff_max_ms);
  p.stop_exit_codes = spec.stop_exit_codes;
  p.kill_timeout = millis(spec.kill_timeout_ms);
  p.kill_signal = config::signal_from_name(spec.kill_signal);
  return p;
}

void InstanceFsm::reset_counters() {
  restart_count_ = 0;
  unstable_restarts_ = 0;
  consecutive_unstable_ = 0;
  prev_restart_delay_ = Millis(0);
}

void InstanceFsm::restore(int restart_count, int unstable_restarts, int consecutive_unstable,
                          TimePoint started_at, Millis prev_restart_delay, State resting) {
  state_ = previous_ = resting == State::Errored ? State::Errored : State::Stopped;
  restart_count_ = std::max(restart_count, 0);
  unstable_restarts_ = std::max(unstable_restarts, 0);
  consecutive_unstable_ = std::max(consecutive_unstable, 0);
  started_at_ = started_at;
  prev_restart_delay_ = clamp_timer(prev_restart_delay);
}

void InstanceFsm::set_state(State next, Event event, std::string reason, Effects& fx) {
  if (cancels_timers(state_, next)) fx.cancel_timers = true;
  fx.changed = true;
  fx.transition = Transition{state_, next, event, reason};
  previous_ = state_;
  state_ = next;
  reason_ = std::move(reason);
}

void InstanceFsm::keep_state(Event event, std::string reason, Effects& fx) {
  fx.transition = Transition{state_, state_, event, reason};
  reason_ = std::move(reason);
}

Effects InstanceFsm::handle(Event event, TimePoint now, ExitStatus exit) {
  Effects fx;
  // An exit's uptime is how long its process ran, from its own start, when the process layer
  // knows it: pmxd's clock also counts the time the spawn waited for its turn and the time pmxd
  // took to hear of the exit, which under CPU contention can outlast min_uptime.
  const Millis uptime = event == Event::Exited && exit.ran_for ? std::max(*exit.ran_for, Millis(0))
                                                                 : elapsed(started_at_, now);
  Facts f{};
  f.event = event;
  f.exit = exit;
  f.policy = &policy_;
  f.spawn_failed = event == Event::SpawnFailed;
  // A failed start is unstable however long it took (wait_ready's listen_timeout may pass min_uptime).
  f.unstable = uptime < policy_.min_uptime || f.spawn_failed;
  f.consecutive_now = consecutive_unstable_;
  f.consecutive_after = consecutive_unstable_;
  if (f.unstable) bump(f.consecutive_after);
  else f.consecutive_after = 0;
  f.stop_code = event == Event::Exited && !exit.unknown && exit.signal == 0 &&
                std::find(policy_.stop_exit_codes.begin(), policy_.stop_exit_codes.end(),
                          exit.code) != policy_.stop_exit_codes.end();
  if (policy_.exp_backoff.count() <= 0) {
    f.delay = clamp_timer(policy_.restart_delay);
  } else {
    const Millis prev = uptime >= kBackoffResetUptime ? Millis(0) : prev_restart_delay_;
    const Millis next = prev.count() <= 0 ? policy_.exp_backoff : grow(prev);
    f.delay = clamp_timer(std::min(next, std::max(policy_.exp_backoff_max, policy_.exp_backoff)));
  }

  const Row* row = nullptr;
  for (const Row& r : kRows) {
    if (matches(r, state_, event) && (!r.guard || r.guard->holds(f))) {
      row = &r;
      break;
    }
  }
  if (!row) return fx;

  // The counters, for every row.
  switch (row->count) {
    case Count::None: break;
    case Count::ResetUnstable: consecutive_unstable_ = 0; break;
    case Count::Exit:
    case Count::ExitBackoff:
      if (f.unstable) bump(unstable_restarts_);
      consecutive_unstable_ = f.consecutive_after;
      if (uptime >= kBackoffResetUptime) prev_restart_delay_ = Millis(0);
      if (row->count == Count::ExitBackoff) prev_restart_delay_ = f.delay;
      break;
    case Count::Unhealthy:
      bump(unstable_restarts_);
      bump(consecutive_unstable_);
      break;
  }
  if (row->spawn == Spawn::Restart || row->spawn == Spawn::TookOver) bump(restart_count_);
  if (row->spawn != Spawn::None) started_at_ = now;

  if (row->signal == Signal::Stop) fx.signal = policy_.kill_signal;
  if (row->signal == Signal::Kill) fx.signal = SIGKILL;
  fx.kill_rest = row->kill_rest && !f.spawn_failed;
  fx.spawn = row->spawn == Spawn::Start || row->spawn == Spawn::Restart;
  if (row->arm == Arm::KillTimer) fx.arm_kill_timer = clamp_timer(policy_.kill_timeout);
  if (row->arm == Arm::RestartTimer) fx.arm_restart_timer = f.delay;
  if (row->to) set_state(*row->to, event, row->reason(f), fx);
  else keep_state(event, row->reason(f), fx);
  return fx;
}

}  // namespace pmx::daemon
