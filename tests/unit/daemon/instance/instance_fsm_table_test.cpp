// Tests of the transition table of daemon/instance/instance_fsm.hpp as a whole: its copies in the header
// comment and docs/architecture.md equal describe_table(), the (state, event) pairs it covers,
// and every pair it does not cover is a no-op.
#include "daemon/instance/instance_fsm.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <utility>

namespace pmx::daemon {
namespace {

TimePoint at(long long ms) { return TimePoint{} + Millis(ms); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The lines strictly between the line holding `begin` and the line holding `end`, each with
// `prefix` removed, joined with '\n' after each.
std::string between(const std::string& text, const std::string& begin, const std::string& end,
                    const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  std::string out;
  bool inside = false;
  bool closed = false;
  while (std::getline(in, line)) {
    if (!inside && line.find(begin) != std::string::npos) {
      inside = true;
      continue;
    }
    if (inside && line.find(end) != std::string::npos) {
      closed = true;
      break;
    }
    if (!inside) continue;
    if (line.rfind(prefix, 0) == 0) line.erase(0, prefix.size());
    out += line + "\n";
  }
  INFO("markers " << begin << " ... " << end);
  REQUIRE(closed);
  return out;
}

TEST_CASE("docs/architecture.md holds the transition table of the code", "[fsm]") {
  const std::string doc = read_file(PMX_SOURCE_DIR "/docs/architecture.md");
  const std::string copy =
      between(doc, "<!-- transition-table:begin -->", "<!-- transition-table:end -->", "");
  INFO("describe_table() says:\n" << describe_table());
  CHECK(copy == describe_table());
}

TEST_CASE("the header comment of instance_fsm.hpp holds the transition table of the code",
          "[fsm]") {
  const std::string header = read_file(PMX_SOURCE_DIR "/daemon/instance/instance_fsm.hpp");
  const std::string copy = between(header, "// <transition-table>", "// </transition-table>", "// ");
  INFO("describe_table() says:\n" << describe_table());
  CHECK(copy == describe_table());
}

TEST_CASE("describe_table: one line per row, every event and state named", "[fsm]") {
  const std::string table = describe_table();
  CHECK(table.rfind("| from", 0) == 0);
  CHECK(std::count(table.begin(), table.end(), '\n') == 2 + 22);
  for (State s : kAllStates) CHECK(table.find(to_string(s)) != std::string::npos);
  for (Event e : kAllEvents) CHECK(table.find(to_string(e)) != std::string::npos);
  for (const char* guard :
       {"[no_autorestart_or_stop_code]", "[unstable_limit_reached]", "[restart_now]", "[otherwise]",
        "[unhealthy_limit_reached]"}) {
    CHECK(table.find(guard) != std::string::npos);
  }
}

// Drives a fresh machine into `target` through events only (restart_delay 500 ms,
// max_restarts 2, min_uptime 1 s).
InstanceFsm drive_to(State target) {
  Policy p;
  p.restart_delay = Millis(500);
  p.max_restarts = 2;
  InstanceFsm fsm(p);
  auto feed = [&](std::initializer_list<std::pair<Event, long long>> events) {
    for (auto [e, t] : events) fsm.handle(e, at(t), ExitStatus{1, 0});
  };
  switch (target) {
    case State::Stopped: break;
    case State::Launching: feed({{Event::Start, 0}}); break;
    case State::Online: feed({{Event::Start, 0}, {Event::Spawned, 0}}); break;
    case State::Stopping: feed({{Event::Start, 0}, {Event::Spawned, 0}, {Event::Stop, 10}}); break;
    case State::Restarting: feed({{Event::Start, 0}, {Event::Spawned, 0}, {Event::Restart, 10}}); break;
    case State::WaitingRestart: feed({{Event::Start, 0}, {Event::Spawned, 0}, {Event::Exited, 100}}); break;
    case State::RestartingUnhealthy: feed({{Event::Start, 0}, {Event::Spawned, 0}, {Event::Unhealthy, 10}}); break;
    case State::Errored:
      feed({{Event::Start, 0}, {Event::Spawned, 0}, {Event::Exited, 100}, {Event::RestartTimer, 600},
            {Event::Spawned, 600}, {Event::Exited, 700}});
      break;
  }
  REQUIRE(fsm.state() == target);
  return fsm;
}

using Pair = std::pair<State, Event>;

// The pairs the table covers, written out independently of the code.
const std::set<Pair>& expected_pairs() {
  static const std::set<Pair> pairs = [] {
    using S = State;
    using E = Event;
    std::set<Pair> p;
    for (S s : {S::Stopped, S::Errored, S::WaitingRestart}) {
      p.insert({s, E::Start});
      p.insert({s, E::Restart});
    }
    p.insert({S::Stopped, E::Adopted});
    p.insert({S::Launching, E::Spawned});
    for (S s : {S::Launching, S::Online, S::Stopping, S::Restarting}) {
      p.insert({s, E::Exited});
      p.insert({s, E::SpawnFailed});
    }
    p.insert({S::WaitingRestart, E::RestartTimer});
    for (S s : {S::Launching, S::Online, S::Restarting, S::WaitingRestart, S::Errored}) {
      p.insert({s, E::Stop});
    }
    p.insert({S::Online, E::Restart});
    p.insert({S::Online, E::MemoryExceeded});
    p.insert({S::Stopping, E::KillTimeout});
    p.insert({S::Restarting, E::KillTimeout});
    p.insert({S::Online, E::Replaced});
    p.insert({S::Online, E::ReplacedUnhealthy});
    p.insert({S::Stopping, E::SpawnCancelled});
    p.insert({S::Online, E::Unhealthy});
    p.insert({S::Online, E::Healthy});
    for (E e : {E::Stop, E::KillTimeout, E::Exited, E::SpawnFailed}) p.insert({S::RestartingUnhealthy, e});
    return p;
  }();
  return pairs;
}

TEST_CASE("has_row covers exactly the pairs of the table", "[fsm]") {
  for (State s : kAllStates) {
    for (Event e : kAllEvents) {
      INFO(to_string(s) << " + " << to_string(e));
      CHECK(has_row(s, e) == (expected_pairs().count({s, e}) == 1));
    }
  }
}

TEST_CASE("every (state, event) pair: pairs without a row are no-ops, the others report "
          "their transition",
          "[fsm]") {
  Policy restart_at_once;
  Policy no_autorestart;
  no_autorestart.autorestart = false;
  Policy backoff;
  backoff.exp_backoff = Millis(100);
  backoff.stop_exit_codes = {0};
  const Policy policies[] = {restart_at_once, no_autorestart, backoff};
  const ExitStatus exits[] = {ExitStatus{0, 0}, ExitStatus{1, 0}, ExitStatus{0, SIGKILL},
                              ExitStatus{0, 0, true}};
  const long long times[] = {150, 60'000};

  for (State from : kAllStates) {
    for (Event ev : kAllEvents) {
      for (const Policy& policy : policies) {
        for (ExitStatus exit : exits) {
          for (long long t : times) {
            InstanceFsm fsm = drive_to(from);
            fsm.set_policy(policy);
            const std::string reason_before = fsm.reason();
            const State previous_before = fsm.previous();
            const int restarts = fsm.restart_count();
            const int unstable = fsm.unstable_restarts();
            const int consecutive = fsm.consecutive_unstable();
            const Millis prev_delay = fsm.prev_restart_delay();
            const TimePoint started = fsm.started_at();
            INFO(to_string(from) << " + " << to_string(ev) << " exit(code " << exit.code
                                 << ", signal " << exit.signal << ", unknown " << exit.unknown
                                 << ") at " << t << " ms");
            const Effects fx = fsm.handle(ev, at(t), exit);
            if (!has_row(from, ev)) {
              CHECK_FALSE(fx.changed);
              CHECK_FALSE(fx.transition);
              CHECK_FALSE(fx.cancel_timers);
              CHECK(fx.signal == 0);
              CHECK_FALSE(fx.kill_rest);
              CHECK_FALSE(fx.spawn);
              CHECK_FALSE(fx.arm_kill_timer);
              CHECK_FALSE(fx.arm_restart_timer);
              CHECK(fsm.state() == from);
              CHECK(fsm.previous() == previous_before);
              CHECK(fsm.reason() == reason_before);
              CHECK(fsm.restart_count() == restarts);
              CHECK(fsm.unstable_restarts() == unstable);
              CHECK(fsm.consecutive_unstable() == consecutive);
              CHECK(fsm.prev_restart_delay() == prev_delay);
              CHECK(fsm.started_at() == started);
              continue;
            }
            REQUIRE(fx.transition);
            CHECK(fx.transition->from == from);
            CHECK(fx.transition->to == fsm.state());
            CHECK(fx.transition->event == ev);
            CHECK(fx.transition->reason == fsm.reason());
            CHECK_FALSE(fsm.reason().empty());
            // Only the kill_timeout and healthy rows keep the state; launching -> launching is a change.
            CHECK(fx.changed == (ev != Event::KillTimeout && ev != Event::Healthy));
            if (fx.changed) CHECK(fsm.previous() == from);
            // Timers are cancelled exactly when the old state owned one the new state does not.
            auto kill_timer_state = [](State s) {
              return s == State::Stopping || s == State::Restarting || s == State::RestartingUnhealthy;
            };
            const bool had_timer = kill_timer_state(from) || from == State::WaitingRestart;
            const bool keeps_kill_timer = kill_timer_state(from) && kill_timer_state(fsm.state());
            CHECK(fx.cancel_timers == (had_timer && fx.changed && !keeps_kill_timer));
            if (fx.spawn) CHECK(fsm.state() == State::Launching);
            if (fx.arm_kill_timer) CHECK(fx.signal != 0);
            if (fx.arm_restart_timer) CHECK(fsm.state() == State::WaitingRestart);
            if (fsm.state() == State::WaitingRestart && from != State::WaitingRestart) {
              CHECK(fx.arm_restart_timer);
            }
            if (ev == Event::SpawnFailed) CHECK_FALSE(fx.kill_rest);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace pmx::daemon
