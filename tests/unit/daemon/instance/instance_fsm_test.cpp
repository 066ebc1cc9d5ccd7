// Tests of daemon/instance/instance_fsm.hpp: one TEST_CASE per row of the transition table, the guards,
// and one exhaustive pass over every (state, event) pair. Time is a fake clock: TimePoints
// built from TimePoint{}.
#include "daemon/instance/instance_fsm.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>
#include <string>
#include <vector>

namespace pmx::daemon {
namespace {

TimePoint at(long long ms) { return TimePoint{} + Millis(ms); }

ExitStatus code(int c) { return ExitStatus{c, 0}; }
ExitStatus killed(int signo) { return ExitStatus{0, signo}; }

// Restarts at once, kill_signal SIGINT, min_uptime 1 s, max_restarts 16 (PM2's defaults).
Policy defaults() { return Policy{}; }

Policy with_delay(long long ms) {
  Policy p;
  p.restart_delay = Millis(ms);
  return p;
}

bool no_effects(const Effects& fx) {
  return !fx.changed && !fx.cancel_timers && fx.signal == 0 && !fx.kill_rest && !fx.spawn &&
         !fx.arm_kill_timer && !fx.arm_restart_timer && !fx.transition;
}

// An instance that was started at 0 ms and is online.
InstanceFsm online(Policy p = defaults()) {
  InstanceFsm fsm(std::move(p));
  fsm.handle(Event::Start, at(0));
  fsm.handle(Event::Spawned, at(0));
  REQUIRE(fsm.state() == State::Online);
  return fsm;
}

// Drives a fresh machine into `target` through events only.
// The policy: restart_delay 500 ms, max_restarts 2, min_uptime 1 s.
InstanceFsm drive_to(State target) {
  Policy p;
  p.restart_delay = Millis(500);
  p.max_restarts = 2;
  InstanceFsm fsm(p);
  switch (target) {
    case State::Stopped:
      break;
    case State::Launching:
      fsm.handle(Event::Start, at(0));
      break;
    case State::Online:
      fsm.handle(Event::Start, at(0));
      fsm.handle(Event::Spawned, at(0));
      break;
    case State::Stopping:
      fsm.handle(Event::Start, at(0));
      fsm.handle(Event::Spawned, at(0));
      fsm.handle(Event::Stop, at(10));
      break;
    case State::Restarting:
      fsm.handle(Event::Start, at(0));
      fsm.handle(Event::Spawned, at(0));
      fsm.handle(Event::Restart, at(10));
      break;
    case State::WaitingRestart:
      fsm.handle(Event::Start, at(0));
      fsm.handle(Event::Spawned, at(0));
      fsm.handle(Event::Exited, at(100), code(1));
      break;
    case State::RestartingUnhealthy:
      fsm.handle(Event::Start, at(0));
      fsm.handle(Event::Spawned, at(0));
      fsm.handle(Event::Unhealthy, at(10));
      break;
    case State::Errored:
      fsm.handle(Event::Start, at(0));
      fsm.handle(Event::Spawned, at(0));
      fsm.handle(Event::Exited, at(100), code(1));
      fsm.handle(Event::RestartTimer, at(600));
      fsm.handle(Event::Spawned, at(600));
      fsm.handle(Event::Exited, at(700), code(1));
      break;
  }
  INFO("driving to " << to_string(target) << ", reached " << to_string(fsm.state()));
  REQUIRE(fsm.state() == target);
  return fsm;
}

// ---- Row: stopped, errored, waiting_restart + start, restart -> launching ----------------------

TEST_CASE("stopped + start -> launching", "[fsm]") {
  InstanceFsm fsm(defaults());
  Effects fx = fsm.handle(Event::Start, at(42));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.previous() == State::Stopped);
  CHECK_FALSE(fx.cancel_timers);  // a stopped instance owns no timer
  CHECK(fx.spawn);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.kill_rest);
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK_FALSE(fx.arm_restart_timer);
  CHECK(fsm.started_at() == at(42));
  CHECK(fsm.restart_count() == 0);
}

TEST_CASE("stopped, errored, waiting_restart + start, restart -> launching", "[fsm]") {
  for (State from : {State::Stopped, State::Errored, State::WaitingRestart}) {
    for (Event ev : {Event::Start, Event::Restart}) {
      InstanceFsm fsm = drive_to(from);
      const int restarts = fsm.restart_count();
      INFO(to_string(from) << " + " << to_string(ev));
      Effects fx = fsm.handle(ev, at(10'000));
      CHECK(fx.changed);
      CHECK(fsm.state() == State::Launching);
      CHECK(fsm.previous() == from);
      // Only waiting_restart owns a timer (the restart timer) that launching does not.
      CHECK(fx.cancel_timers == (from == State::WaitingRestart));
      CHECK(fx.spawn);
      CHECK(fx.signal == 0);
      CHECK_FALSE(fx.kill_rest);
      CHECK_FALSE(fx.arm_kill_timer);
      CHECK_FALSE(fx.arm_restart_timer);
      CHECK(fsm.started_at() == at(10'000));
      CHECK(fsm.restart_count() == restarts);  // a start of a stopped instance is no restart
      CHECK(fsm.consecutive_unstable() == 0);
    }
  }
}

// ---- Row: stopped + adopted -> online ----------------------------------------------------------

TEST_CASE("stopped + adopted -> online", "[fsm]") {
  InstanceFsm fsm(defaults());
  // A new pmxd puts back the counters the crashed one persisted, then adopts the process.
  fsm.restore(7, 3, 2, at(1000), Millis(450));
  Effects fx = fsm.handle(Event::Adopted, at(90'000));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Online);
  CHECK(fsm.previous() == State::Stopped);
  CHECK(fsm.reason() == "adopted");
  CHECK_FALSE(fx.cancel_timers);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.kill_rest);
  CHECK_FALSE(fx.spawn);
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK_FALSE(fx.arm_restart_timer);
  REQUIRE(fx.transition);
  CHECK(fx.transition->from == State::Stopped);
  CHECK(fx.transition->to == State::Online);
  CHECK(fx.transition->event == Event::Adopted);
  CHECK(fx.transition->reason == "adopted");
  // The counters and the start time are the restored ones: uptime goes on.
  CHECK(fsm.restart_count() == 7);
  CHECK(fsm.unstable_restarts() == 3);
  CHECK(fsm.consecutive_unstable() == 2);
  CHECK(fsm.prev_restart_delay() == Millis(450));
  CHECK(fsm.started_at() == at(1000));
}

TEST_CASE("adopted is a no-op outside stopped", "[fsm]") {
  for (State from : kAllStates) {
    if (from == State::Stopped) continue;
    InstanceFsm fsm = drive_to(from);
    INFO(to_string(from));
    Effects fx = fsm.handle(Event::Adopted, at(10'000));
    CHECK(no_effects(fx));
    CHECK(fsm.state() == from);
  }
}

TEST_CASE("an adopted instance's exit with an unknown code restarts it like a crash", "[fsm]") {
  Policy p = defaults();
  p.stop_exit_codes = {0};
  SECTION("after a stable run: restarted at once, counted") {
    InstanceFsm fsm(p);
    fsm.restore(4, 1, 0, at(0));
    fsm.handle(Event::Adopted, at(50'000));
    Effects fx = fsm.handle(Event::Exited, at(60'000), ExitStatus{0, 0, true});
    CHECK(fsm.state() == State::Launching);
    CHECK(fx.spawn);
    CHECK(fx.kill_rest);
    CHECK(fsm.restart_count() == 5);
    CHECK(fsm.reason() == "exited (code unknown), restarting");
    REQUIRE(fx.transition);
    CHECK(fx.transition->event == Event::Exited);
    CHECK(fx.transition->reason == "exited (code unknown), restarting");
  }
  SECTION("an unknown code is never a stop exit code") {
    InstanceFsm fsm = online(p);
    fsm.handle(Event::Exited, at(5000), ExitStatus{0, 0, true});
    CHECK(fsm.state() == State::Launching);
  }
  SECTION("after a short run: unstable, and errored at max_restarts") {
    p.max_restarts = 3;
    InstanceFsm fsm(p);
    fsm.restore(10, 2, 2, at(1000));
    fsm.handle(Event::Adopted, at(1100));
    fsm.handle(Event::Exited, at(1200), ExitStatus{0, 0, true});
    CHECK(fsm.state() == State::Errored);
    CHECK(fsm.consecutive_unstable() == 3);
    CHECK(fsm.unstable_restarts() == 3);
    CHECK_THAT(fsm.reason(), Catch::Matchers::StartsWith("exited (code unknown), 3 unstable"));
  }
  SECTION("autorestart off: stopped") {
    p.autorestart = false;
    InstanceFsm fsm(p);
    fsm.handle(Event::Adopted, at(0));
    fsm.handle(Event::Exited, at(5000), ExitStatus{1, 0, true});
    CHECK(fsm.state() == State::Stopped);
    CHECK(fsm.reason() == "exited (code unknown) (autorestart off)");
  }
  SECTION("while stopping: stopped, reason says the code is unknown") {
    InstanceFsm fsm(p);
    fsm.handle(Event::Adopted, at(0));
    fsm.handle(Event::Stop, at(10));
    fsm.handle(Event::Exited, at(20), ExitStatus{0, 0, true});
    CHECK(fsm.state() == State::Stopped);
    CHECK(fsm.reason() == "exited (code unknown)");
  }
}

TEST_CASE("restore takes negative counts as 0, reset_counters still zeroes", "[fsm]") {
  InstanceFsm fsm(defaults());
  fsm.restore(-1, -5, -2, at(3), Millis(-10));
  CHECK(fsm.restart_count() == 0);
  CHECK(fsm.unstable_restarts() == 0);
  CHECK(fsm.consecutive_unstable() == 0);
  CHECK(fsm.prev_restart_delay() == Millis(0));
  CHECK(fsm.started_at() == at(3));
  fsm.restore(2, 2, 2, at(3), Millis(100));
  fsm.reset_counters();
  CHECK(fsm.restart_count() == 0);
  CHECK(fsm.consecutive_unstable() == 0);
}

// ---- Row: launching + spawned -> online --------------------------------------------------------

TEST_CASE("launching + spawned -> online", "[fsm]") {
  InstanceFsm fsm(defaults());
  fsm.handle(Event::Start, at(0));
  Effects fx = fsm.handle(Event::Spawned, at(5));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Online);
  CHECK(fsm.previous() == State::Launching);
  CHECK_FALSE(fx.spawn);
  CHECK_FALSE(fx.cancel_timers);
  CHECK_FALSE(fx.kill_rest);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK_FALSE(fx.arm_restart_timer);
  CHECK(status_name(fsm.state()) == std::string("online"));
}

// ---- Row: launching, online + exited [no autorestart / stop code] -> stopped -------------------

TEST_CASE("online + exited(autorestart off) -> stopped", "[fsm]") {
  Policy p = defaults();
  p.autorestart = false;
  for (ExitStatus exit : {code(0), code(1), killed(SIGKILL)}) {
    InstanceFsm fsm = online(p);
    Effects fx = fsm.handle(Event::Exited, at(50), exit);
    CHECK(fx.changed);
    CHECK(fsm.state() == State::Stopped);
    CHECK(fx.kill_rest);
    CHECK_FALSE(fx.spawn);
    CHECK_FALSE(fx.arm_restart_timer);
    CHECK(fsm.restart_count() == 0);
    CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("autorestart"));
  }
}

TEST_CASE("launching + exited(autorestart off) -> stopped", "[fsm]") {
  Policy p = defaults();
  p.autorestart = false;
  InstanceFsm fsm(p);
  fsm.handle(Event::Start, at(0));
  Effects fx = fsm.handle(Event::Exited, at(1), code(127));
  CHECK(fsm.state() == State::Stopped);
  CHECK(fsm.previous() == State::Launching);
  CHECK(fx.kill_rest);
  CHECK_FALSE(fx.spawn);
}

TEST_CASE("online + exited(stop exit code) -> stopped", "[fsm]") {
  Policy p = defaults();
  p.stop_exit_codes = {0, 3};
  SECTION("a listed code stops") {
    for (int c : {0, 3}) {
      InstanceFsm fsm = online(p);
      Effects fx = fsm.handle(Event::Exited, at(50), code(c));
      CHECK(fsm.state() == State::Stopped);
      CHECK(fx.kill_rest);
      CHECK_FALSE(fx.spawn);
      CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("exited with code " + std::to_string(c)));
    }
  }
  SECTION("another code restarts") {
    InstanceFsm fsm = online(p);
    Effects fx = fsm.handle(Event::Exited, at(5000), code(1));
    CHECK(fsm.state() == State::Launching);
    CHECK(fx.spawn);
  }
  SECTION("death by a signal is no exit code, even if its number is listed") {
    InstanceFsm fsm = online(p);
    Effects fx = fsm.handle(Event::Exited, at(5000), killed(3));
    CHECK(fsm.state() == State::Launching);
    CHECK(fx.spawn);
    CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("killed by SIGQUIT"));
  }
  SECTION("a failed spawn is no exit code") {
    InstanceFsm fsm(p);
    fsm.handle(Event::Start, at(0));
    Effects fx = fsm.handle(Event::SpawnFailed, at(1), code(0));
    CHECK(fsm.state() == State::Launching);
    CHECK(fx.spawn);
  }
}

// ---- Row: launching, online + exited [unstable count = max] -> errored -------------------------

TEST_CASE("online + exited(unstable, count = max_restarts) -> errored", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 3;
  InstanceFsm fsm = online(p);
  long long t = 0;
  for (int i = 1; i <= 2; ++i) {
    t += 100;  // each run lasts 100 ms < min_uptime
    Effects fx = fsm.handle(Event::Exited, at(t), code(1));
    REQUIRE(fsm.state() == State::Launching);
    CHECK(fx.spawn);
    CHECK(fsm.consecutive_unstable() == i);
    fsm.handle(Event::Spawned, at(t));
  }
  t += 100;
  Effects fx = fsm.handle(Event::Exited, at(t), code(1));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Errored);
  CHECK(fsm.previous() == State::Online);
  CHECK(fx.kill_rest);
  CHECK_FALSE(fx.spawn);
  CHECK_FALSE(fx.arm_restart_timer);
  CHECK(fsm.consecutive_unstable() == 3);
  CHECK(fsm.unstable_restarts() == 3);
  CHECK(fsm.restart_count() == 2);
  CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("max_restarts"));
  CHECK(status_name(fsm.state()) == std::string("errored"));
}

TEST_CASE("launching + spawn_failed(count = max_restarts) -> errored", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 2;
  InstanceFsm fsm(p);
  fsm.handle(Event::Start, at(0));
  Effects first = fsm.handle(Event::SpawnFailed, at(1));
  CHECK(fsm.state() == State::Launching);
  CHECK(first.spawn);
  CHECK_FALSE(first.kill_rest);  // nothing ran, nothing to kill
  CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("spawn failed"));
  Effects second = fsm.handle(Event::SpawnFailed, at(2));
  CHECK(fsm.state() == State::Errored);
  CHECK_FALSE(second.kill_rest);
  CHECK_FALSE(second.spawn);
}

TEST_CASE("launching + spawn_failed after min_uptime still counts as unstable (a wait_ready timeout)", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 1;
  InstanceFsm fsm(p);
  fsm.handle(Event::Start, at(0));
  // listen_timeout (3 s) is longer than min_uptime (1 s): the run was long, the start failed.
  fsm.handle(Event::SpawnFailed, at(3000));
  CHECK(fsm.state() == State::Errored);
  CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("max_restarts"));
}

TEST_CASE("an exit whose run lasted less than min_uptime is unstable however late pmxd handles it",
          "[fsm][regression]") {
  // Under CPU contention pmxd forks long before the child reaches its exec, and hears of the
  // exit late: by its clock each run outlasted min_uptime, and a crash loop never ended errored.
  Policy p = defaults();
  p.max_restarts = 3;
  InstanceFsm fsm = online(p);
  long long t = 0;
  for (int i = 1; i <= 3; ++i) {
    t += 4000;  // 4 s by pmxd's clock since the spawn
    ExitStatus exit = code(1);
    exit.ran_for = Millis(30);  // the process's own run: exec to exit
    fsm.handle(Event::Exited, at(t), exit);
    CHECK(fsm.consecutive_unstable() == i);
    if (i < 3) fsm.handle(Event::Spawned, at(t));
  }
  CHECK(fsm.state() == State::Errored);
}

TEST_CASE("an exit whose run lasted min_uptime is stable even when pmxd's clock says less", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 1;
  InstanceFsm fsm = online(p);
  ExitStatus exit = code(1);
  exit.ran_for = Millis(1000);
  fsm.handle(Event::Exited, at(10), exit);
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.consecutive_unstable() == 0);
}

TEST_CASE("without the run's own length an exit's uptime is pmxd's clock since the spawn", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 1;
  InstanceFsm fsm = online(p);
  fsm.handle(Event::Exited, at(5000), code(1));  // ran_for unset (an adopted process)
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.consecutive_unstable() == 0);
}

// ---- Row: launching, online + exited [delay = 0] -> launching ----------------------------------

TEST_CASE("online + exited(delay = 0) -> launching", "[fsm]") {
  InstanceFsm fsm = online();
  Effects fx = fsm.handle(Event::Exited, at(5000), code(1));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.previous() == State::Online);
  CHECK(fx.kill_rest);
  CHECK(fx.spawn);
  CHECK_FALSE(fx.cancel_timers);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.arm_restart_timer);
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK(fsm.restart_count() == 1);
  CHECK(fsm.started_at() == at(5000));
  CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("exited with code 1"));
}

TEST_CASE("launching + exited(delay = 0) -> launching", "[fsm]") {
  InstanceFsm fsm(defaults());
  fsm.handle(Event::Start, at(0));
  Effects fx = fsm.handle(Event::Exited, at(10), killed(SIGSEGV));
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.previous() == State::Launching);
  CHECK(fx.kill_rest);
  CHECK(fx.spawn);
  CHECK(fsm.restart_count() == 1);
  CHECK(fsm.unstable_restarts() == 1);
  CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("killed by SIGSEGV"));
}

// ---- Row: launching, online + exited [else] -> waiting_restart ---------------------------------

TEST_CASE("online + exited(unstable) -> waiting_restart", "[fsm]") {
  InstanceFsm fsm = online(with_delay(2000));
  Effects fx = fsm.handle(Event::Exited, at(100), code(1));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::WaitingRestart);
  CHECK(fsm.previous() == State::Online);
  CHECK(fx.kill_rest);
  CHECK_FALSE(fx.spawn);
  REQUIRE(fx.arm_restart_timer);
  CHECK(*fx.arm_restart_timer == Millis(2000));
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK(fsm.restart_count() == 0);  // counted when the timer fires
  CHECK(fsm.consecutive_unstable() == 1);
  CHECK(status_name(fsm.state()) == std::string("waiting restart"));
}

TEST_CASE("online + exited(stable) -> waiting_restart", "[fsm]") {
  InstanceFsm fsm = online(with_delay(2000));
  Effects fx = fsm.handle(Event::Exited, at(60'000), code(0));
  CHECK(fsm.state() == State::WaitingRestart);
  REQUIRE(fx.arm_restart_timer);
  CHECK(*fx.arm_restart_timer == Millis(2000));
  CHECK(fsm.consecutive_unstable() == 0);
  CHECK(fsm.unstable_restarts() == 0);
}

// ---- Row: waiting_restart + restart_timer -> launching -----------------------------------------

TEST_CASE("waiting_restart + restart_timer -> launching", "[fsm]") {
  InstanceFsm fsm = online(with_delay(2000));
  fsm.handle(Event::Exited, at(100), code(1));
  REQUIRE(fsm.state() == State::WaitingRestart);
  Effects fx = fsm.handle(Event::RestartTimer, at(2100));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.previous() == State::WaitingRestart);
  CHECK(fx.spawn);
  CHECK_FALSE(fx.kill_rest);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.arm_restart_timer);
  CHECK(fsm.restart_count() == 1);
  CHECK(fsm.started_at() == at(2100));
}

// ---- Row: launching, online + stop -> stopping -------------------------------------------------

TEST_CASE("launching, online + stop -> stopping", "[fsm]") {
  Policy p = defaults();
  p.kill_signal = SIGTERM;
  p.kill_timeout = Millis(3000);
  for (State from : {State::Launching, State::Online}) {
    InstanceFsm fsm(p);
    fsm.handle(Event::Start, at(0));
    if (from == State::Online) fsm.handle(Event::Spawned, at(0));
    REQUIRE(fsm.state() == from);
    Effects fx = fsm.handle(Event::Stop, at(10));
    INFO(to_string(from));
    CHECK(fx.changed);
    CHECK(fsm.state() == State::Stopping);
    CHECK(fsm.previous() == from);
    CHECK(fx.signal == SIGTERM);
    REQUIRE(fx.arm_kill_timer);
    CHECK(*fx.arm_kill_timer == Millis(3000));
    CHECK_FALSE(fx.spawn);
    CHECK_FALSE(fx.kill_rest);
    CHECK_FALSE(fx.cancel_timers);
    CHECK(status_name(fsm.state()) == std::string("stopping"));
  }
}

// ---- Row: online + restart, memory_exceeded -> restarting --------------------------------------

TEST_CASE("online + restart, memory_exceeded -> restarting", "[fsm]") {
  for (Event ev : {Event::Restart, Event::MemoryExceeded}) {
    InstanceFsm fsm = online();
    Effects fx = fsm.handle(ev, at(10));
    INFO(to_string(ev));
    CHECK(fx.changed);
    CHECK(fsm.state() == State::Restarting);
    CHECK(fsm.previous() == State::Online);
    CHECK(fx.signal == SIGINT);
    REQUIRE(fx.arm_kill_timer);
    CHECK(*fx.arm_kill_timer == Millis(1600));
    CHECK_FALSE(fx.spawn);
    CHECK_FALSE(fx.cancel_timers);
    CHECK(fsm.restart_count() == 0);  // counted when the old process is gone
    // PM2 shows a restarting app as stopping.
    CHECK(status_name(fsm.state()) == std::string("stopping"));
  }
  InstanceFsm mem = online();
  mem.handle(Event::MemoryExceeded, at(10));
  CHECK_THAT(mem.reason(), Catch::Matchers::Contains("memory"));
}

// ---- Row: online + replaced -> online -----------------------------------------------------------

TEST_CASE("online + replaced -> online: one restart counted, no spawn, no signal, uptime from now", "[fsm]") {
  InstanceFsm fsm = online();
  fsm.handle(Event::Exited, at(100), code(1));  // an unstable exit...
  fsm.handle(Event::Spawned, at(100));
  REQUIRE(fsm.state() == State::Online);
  REQUIRE(fsm.consecutive_unstable() == 1);
  const int before = fsm.restart_count();
  Effects fx = fsm.handle(Event::Replaced, at(5000));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Online);
  CHECK(fsm.previous() == State::Online);
  CHECK(fsm.restart_count() == before + 1);
  CHECK(fsm.consecutive_unstable() == 0);  // ...forgotten: the new run started well
  CHECK(fsm.started_at() == at(5000));
  CHECK_FALSE(fx.spawn);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.kill_rest);
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK_FALSE(fx.arm_restart_timer);
  REQUIRE(fx.transition);
  CHECK(fx.transition->event == Event::Replaced);
  CHECK(fsm.reason() == "reloaded");
  // Anywhere else, replaced changes nothing (the supervisor only sends it to an online instance).
  for (State s : {State::Launching, State::Stopping, State::Restarting}) {
    InstanceFsm other = online();
    if (s == State::Stopping) other.handle(Event::Stop, at(10));
    if (s == State::Restarting) other.handle(Event::Restart, at(10));
    if (s == State::Launching) other = InstanceFsm(defaults()), other.handle(Event::Start, at(0));
    INFO(to_string(s));
    REQUIRE(other.state() == s);
    CHECK_FALSE(other.handle(Event::Replaced, at(20)).changed);
  }
}

// ---- Row: restarting + stop -> stopping --------------------------------------------------------

TEST_CASE("restarting + stop -> stopping", "[fsm]") {
  InstanceFsm fsm = online();
  fsm.handle(Event::Restart, at(10));
  Effects fx = fsm.handle(Event::Stop, at(20));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Stopping);
  CHECK(fsm.previous() == State::Restarting);
  // The stop signal was sent and the kill timer armed by the restart: nothing more to do.
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK_FALSE(fx.cancel_timers);
  CHECK_FALSE(fx.spawn);
  CHECK_FALSE(fx.kill_rest);
  // And the exit that follows ends in stopped, not in a new launch.
  fsm.handle(Event::Exited, at(30), killed(SIGINT));
  CHECK(fsm.state() == State::Stopped);
}

// ---- Row: stopping, restarting + kill_timeout -> (same) ----------------------------------------

TEST_CASE("stopping, restarting + kill_timeout -> (same), SIGKILL all", "[fsm]") {
  for (Event first : {Event::Stop, Event::Restart}) {
    InstanceFsm fsm = online();
    fsm.handle(first, at(10));
    const State before = fsm.state();
    Effects fx = fsm.handle(Event::KillTimeout, at(1610));
    INFO(to_string(before));
    CHECK_FALSE(fx.changed);
    CHECK(fsm.state() == before);
    CHECK(fx.signal == SIGKILL);
    CHECK_FALSE(fx.spawn);
    CHECK_FALSE(fx.kill_rest);
    CHECK_FALSE(fx.cancel_timers);
    CHECK_FALSE(fx.arm_kill_timer);
    CHECK_FALSE(fx.arm_restart_timer);
    CHECK_THAT(fsm.reason(), Catch::Matchers::Contains("SIGKILL"));
  }
}

// ---- Row: stopping + exited -> stopped ---------------------------------------------------------

TEST_CASE("stopping + exited -> stopped", "[fsm]") {
  InstanceFsm fsm = online();
  fsm.handle(Event::Stop, at(10));
  Effects fx = fsm.handle(Event::Exited, at(20), killed(SIGINT));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Stopped);
  CHECK(fsm.previous() == State::Stopping);
  CHECK(fx.cancel_timers);
  CHECK(fx.kill_rest);
  CHECK_FALSE(fx.spawn);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.arm_restart_timer);
  CHECK(fsm.restart_count() == 0);
  CHECK(status_name(fsm.state()) == std::string("stopped"));
}

TEST_CASE("stopping + spawn_failed -> stopped", "[fsm]") {
  InstanceFsm fsm(defaults());
  fsm.handle(Event::Start, at(0));
  fsm.handle(Event::Stop, at(1));
  Effects fx = fsm.handle(Event::SpawnFailed, at(2));
  CHECK(fsm.state() == State::Stopped);
  CHECK(fx.cancel_timers);
  CHECK_FALSE(fx.kill_rest);
  CHECK_FALSE(fx.spawn);
}

TEST_CASE("stopping + spawn_cancelled -> stopped", "[fsm]") {
  InstanceFsm fsm(defaults());
  fsm.handle(Event::Start, at(0));  // its spawn waits for a slot
  Effects stop = fsm.handle(Event::Stop, at(1));
  CHECK(stop.arm_kill_timer);
  Effects fx = fsm.handle(Event::SpawnCancelled, at(2));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Stopped);
  CHECK(fx.cancel_timers);
  CHECK_FALSE(fx.kill_rest);
  CHECK_FALSE(fx.spawn);
  CHECK(fsm.reason() == "stopped before its spawn's turn came");
  CHECK(fsm.restart_count() == 0);
  CHECK(fsm.unstable_restarts() == 0);
}

// ---- Row: restarting + exited -> launching -----------------------------------------------------

TEST_CASE("restarting + exited -> launching", "[fsm]") {
  InstanceFsm fsm = online();
  fsm.handle(Event::Restart, at(10));
  Effects fx = fsm.handle(Event::Exited, at(20), killed(SIGINT));
  CHECK(fx.changed);
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.previous() == State::Restarting);
  CHECK(fx.cancel_timers);
  CHECK(fx.kill_rest);
  CHECK(fx.spawn);
  CHECK(fx.signal == 0);
  CHECK_FALSE(fx.arm_kill_timer);
  CHECK(fsm.restart_count() == 1);
  CHECK(fsm.started_at() == at(20));
  // A restart the user asked for is not an unstable exit, however short the run.
  CHECK(fsm.consecutive_unstable() == 0);
  CHECK(fsm.unstable_restarts() == 0);
}

// ---- Row: waiting_restart, errored + stop -> stopped -------------------------------------------

TEST_CASE("waiting_restart, errored + stop -> stopped", "[fsm]") {
  for (State from : {State::WaitingRestart, State::Errored}) {
    InstanceFsm fsm = drive_to(from);
    Effects fx = fsm.handle(Event::Stop, at(5000));
    INFO(to_string(from));
    CHECK(fx.changed);
    CHECK(fsm.state() == State::Stopped);
    CHECK(fsm.previous() == from);
    // Only waiting_restart owns a timer (the restart timer); errored owns none.
    CHECK(fx.cancel_timers == (from == State::WaitingRestart));
    CHECK(fx.signal == 0);
    CHECK_FALSE(fx.kill_rest);
    CHECK_FALSE(fx.spawn);
    CHECK_FALSE(fx.arm_kill_timer);
    CHECK_FALSE(fx.arm_restart_timer);
  }
}

// ---- Guards ------------------------------------------------------------------------------------

TEST_CASE("a stable run resets the consecutive count: no errored for long-lived apps", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 3;
  p.min_uptime = Millis(1000);
  InstanceFsm fsm = online(p);
  long long t = 0;
  for (int cycle = 0; cycle < 50; ++cycle) {
    // Two short runs, one below the limit...
    for (int i = 0; i < 2; ++i) {
      t += 10;
      fsm.handle(Event::Exited, at(t), code(1));
      REQUIRE(fsm.state() == State::Launching);
      fsm.handle(Event::Spawned, at(t));
    }
    CHECK(fsm.consecutive_unstable() == 2);
    // ...then a run of exactly min_uptime counts as stable and resets the count.
    t += 1000;
    fsm.handle(Event::Exited, at(t), code(1));
    REQUIRE(fsm.state() == State::Launching);
    CHECK(fsm.consecutive_unstable() == 0);
    fsm.handle(Event::Spawned, at(t));
  }
  CHECK(fsm.unstable_restarts() == 100);
  CHECK(fsm.restart_count() == 150);
}

TEST_CASE("an app that always lives longer than min_uptime never ends errored", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 1;
  InstanceFsm fsm = online(p);
  long long t = 0;
  for (int i = 0; i < 200; ++i) {
    t += 1500;
    fsm.handle(Event::Exited, at(t), code(1));
    REQUIRE(fsm.state() == State::Launching);
    fsm.handle(Event::Spawned, at(t));
  }
  CHECK(fsm.unstable_restarts() == 0);
  CHECK(fsm.restart_count() == 200);
}

TEST_CASE("start after errored gives the app a fresh count", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 2;
  InstanceFsm fsm = online(p);
  fsm.handle(Event::Exited, at(10), code(1));
  fsm.handle(Event::Spawned, at(10));
  fsm.handle(Event::Exited, at(20), code(1));
  REQUIRE(fsm.state() == State::Errored);
  fsm.handle(Event::Start, at(100));
  fsm.handle(Event::Spawned, at(100));
  fsm.handle(Event::Exited, at(110), code(1));
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.consecutive_unstable() == 1);
}

TEST_CASE("restart_delay -> waiting_restart with arm_restart_timer, every time", "[fsm]") {
  InstanceFsm fsm = online(with_delay(750));
  long long t = 0;
  for (int i = 1; i <= 5; ++i) {
    t += 5000;
    Effects fx = fsm.handle(Event::Exited, at(t), code(2));
    REQUIRE(fsm.state() == State::WaitingRestart);
    REQUIRE(fx.arm_restart_timer);
    CHECK(*fx.arm_restart_timer == Millis(750));
    t += 750;
    fsm.handle(Event::RestartTimer, at(t));
    fsm.handle(Event::Spawned, at(t));
    CHECK(fsm.restart_count() == i);
  }
}

TEST_CASE("exp backoff grows x1.5 up to the cap", "[fsm]") {
  Policy p = defaults();
  p.exp_backoff = Millis(100);
  p.exp_backoff_max = Millis(15000);
  p.max_restarts = 1000;
  p.restart_delay = Millis(9999);  // ignored while exp backoff is on
  InstanceFsm fsm = online(p);
  const std::vector<long long> expected = {100,  150,  225,  337,   505,   757,   1135,  1702,
                                           2553, 3829, 5743, 8614, 12921, 15000, 15000, 15000};
  long long t = 0;
  for (long long want : expected) {
    t += 50;  // a short run
    Effects fx = fsm.handle(Event::Exited, at(t), code(1));
    REQUIRE(fsm.state() == State::WaitingRestart);
    REQUIRE(fx.arm_restart_timer);
    CHECK(fx.arm_restart_timer->count() == want);
    CHECK(fsm.prev_restart_delay().count() == want);
    t += want;
    fsm.handle(Event::RestartTimer, at(t));
    fsm.handle(Event::Spawned, at(t));
  }
}

TEST_CASE("exp backoff resets after a 30 s run", "[fsm]") {
  Policy p = defaults();
  p.exp_backoff = Millis(100);
  p.max_restarts = 1000;
  InstanceFsm fsm = online(p);
  long long t = 0;
  auto run_and_exit = [&](long long run_ms) {
    t += run_ms;
    Effects fx = fsm.handle(Event::Exited, at(t), code(1));
    REQUIRE(fsm.state() == State::WaitingRestart);
    REQUIRE(fx.arm_restart_timer);
    const Millis delay = *fx.arm_restart_timer;
    t += delay.count();
    fsm.handle(Event::RestartTimer, at(t));
    fsm.handle(Event::Spawned, at(t));
    return delay.count();
  };
  CHECK(run_and_exit(10) == 100);
  CHECK(run_and_exit(10) == 150);
  CHECK(run_and_exit(10) == 225);
  // A stable run shorter than 30 s resets the consecutive count but not the backoff.
  CHECK(run_and_exit(29'999) == 337);
  CHECK(fsm.consecutive_unstable() == 0);
  // A run of 30 s starts the backoff again from its first delay.
  CHECK(run_and_exit(30'000) == 100);
  CHECK(run_and_exit(10) == 150);
}

TEST_CASE("exp backoff: a cap below the first delay never shortens it", "[fsm]") {
  Policy p = defaults();
  p.exp_backoff = Millis(500);
  p.exp_backoff_max = Millis(200);
  InstanceFsm fsm = online(p);
  Effects fx = fsm.handle(Event::Exited, at(10), code(1));
  REQUIRE(fx.arm_restart_timer);
  CHECK(*fx.arm_restart_timer == Millis(500));
  fsm.handle(Event::RestartTimer, at(510));
  fsm.handle(Event::Spawned, at(510));
  fx = fsm.handle(Event::Exited, at(520), code(1));
  REQUIRE(fx.arm_restart_timer);
  CHECK(*fx.arm_restart_timer == Millis(500));
}

TEST_CASE("restart_count counts restarts of a running instance, not starts", "[fsm]") {
  InstanceFsm fsm(defaults());
  fsm.handle(Event::Start, at(0));
  fsm.handle(Event::Spawned, at(0));
  CHECK(fsm.restart_count() == 0);

  fsm.handle(Event::Exited, at(5000), code(1));  // automatic restart
  fsm.handle(Event::Spawned, at(5000));
  CHECK(fsm.restart_count() == 1);

  fsm.handle(Event::Restart, at(6000));  // restart of an online instance
  fsm.handle(Event::Exited, at(6100), killed(SIGINT));
  fsm.handle(Event::Spawned, at(6100));
  CHECK(fsm.restart_count() == 2);

  fsm.handle(Event::Stop, at(7000));
  fsm.handle(Event::Exited, at(7100), killed(SIGINT));
  REQUIRE(fsm.state() == State::Stopped);
  CHECK(fsm.restart_count() == 2);

  fsm.handle(Event::Start, at(8000));  // start of a stopped instance
  CHECK(fsm.restart_count() == 2);
  fsm.handle(Event::Spawned, at(8000));
  fsm.handle(Event::Stop, at(8100));
  fsm.handle(Event::Exited, at(8200));
  fsm.handle(Event::Restart, at(9000));  // restart of a stopped instance is a start
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.restart_count() == 2);

  // Events that change nothing count nothing.
  fsm.handle(Event::Start, at(9100));
  fsm.handle(Event::Restart, at(9100));
  CHECK(fsm.restart_count() == 2);
}

TEST_CASE("reset_counters zeroes the counters and keeps the state", "[fsm]") {
  Policy p = defaults();
  p.exp_backoff = Millis(100);
  InstanceFsm fsm = online(p);
  fsm.handle(Event::Exited, at(10), code(1));
  fsm.handle(Event::RestartTimer, at(110));
  fsm.handle(Event::Spawned, at(110));
  fsm.handle(Event::Exited, at(120), code(1));
  REQUIRE(fsm.state() == State::WaitingRestart);
  REQUIRE(fsm.restart_count() == 1);
  REQUIRE(fsm.unstable_restarts() == 2);
  REQUIRE(fsm.consecutive_unstable() == 2);
  REQUIRE(fsm.prev_restart_delay() == Millis(150));

  fsm.reset_counters();
  CHECK(fsm.restart_count() == 0);
  CHECK(fsm.unstable_restarts() == 0);
  CHECK(fsm.consecutive_unstable() == 0);
  CHECK(fsm.prev_restart_delay() == Millis(0));
  CHECK(fsm.state() == State::WaitingRestart);

  // The backoff starts again from its first delay.
  fsm.handle(Event::RestartTimer, at(300));
  fsm.handle(Event::Spawned, at(300));
  Effects fx = fsm.handle(Event::Exited, at(310), code(1));
  REQUIRE(fx.arm_restart_timer);
  CHECK(*fx.arm_restart_timer == Millis(100));
  CHECK(fsm.restart_count() == 1);
}

TEST_CASE("Policy::from reads the restart options of an AppSpec", "[fsm]") {
  config::AppSpec spec;
  spec.autorestart = false;
  spec.max_restarts = 7;
  spec.min_uptime_ms = 2500;
  spec.restart_delay_ms = 300;
  spec.exp_backoff_restart_delay_ms = 100;
  spec.exp_backoff_max_ms = 9000;
  spec.stop_exit_codes = {0, 4};
  spec.kill_timeout_ms = 5000;
  spec.kill_signal = "SIGTERM";
  Policy p = Policy::from(spec);
  CHECK_FALSE(p.autorestart);
  CHECK(p.max_restarts == 7);
  CHECK(p.min_uptime == Millis(2500));
  CHECK(p.restart_delay == Millis(300));
  CHECK(p.exp_backoff == Millis(100));
  CHECK(p.exp_backoff_max == Millis(9000));
  CHECK(p.stop_exit_codes == std::vector<int>{0, 4});
  CHECK(p.kill_timeout == Millis(5000));
  CHECK(p.kill_signal == SIGTERM);

  Policy d = Policy::from(config::AppSpec{});
  CHECK(d.autorestart);
  CHECK(d.max_restarts == 16);
  CHECK(d.min_uptime == Millis(1000));
  CHECK(d.kill_timeout == Millis(1600));
  CHECK(d.kill_signal == SIGINT);
}

TEST_CASE("to_string and status_name name every state and event", "[fsm]") {
  CHECK(std::string(to_string(State::WaitingRestart)) == "waiting_restart");
  CHECK(std::string(status_name(State::WaitingRestart)) == "waiting restart");
  CHECK(std::string(to_string(State::Restarting)) == "restarting");
  CHECK(std::string(to_string(Event::KillTimeout)) == "kill_timeout");
  CHECK(std::string(to_string(Event::SpawnFailed)) == "spawn_failed");
  std::set<std::string> states;
  for (State s : kAllStates) states.insert(to_string(s));
  CHECK(states.size() == std::size(kAllStates));
  CHECK(states.count("?") == 0);
  std::set<std::string> events;
  for (Event e : kAllEvents) events.insert(to_string(e));
  CHECK(events.size() == std::size(kAllEvents));
  CHECK(events.count("?") == 0);
}

// ---- Durations and counters never overflow ---------------------------------------------

// Runs `restarts` short-lived crashes and returns every restart delay chosen.
std::vector<Millis> crash_loop(InstanceFsm& fsm, int restarts) {
  std::vector<Millis> delays;
  long long t = 0;
  for (int i = 0; i < restarts; ++i) {
    t += 10;
    Effects fx = fsm.handle(Event::Exited, at(t), code(1));
    if (fsm.state() == State::WaitingRestart) {
      REQUIRE(fx.arm_restart_timer);
      delays.push_back(*fx.arm_restart_timer);
      fsm.handle(Event::RestartTimer, at(t));
    } else {
      REQUIRE(fsm.state() == State::Launching);
      delays.push_back(Millis(0));
    }
    fsm.handle(Event::Spawned, at(t));
  }
  return delays;
}

TEST_CASE("exp backoff with a huge cap saturates over thousands of restarts",
          "[fsm]") {
  for (Millis cap : {Millis::max(), Millis::max() / 2, Millis(std::numeric_limits<int>::max()) * 1000}) {
    Policy p = defaults();
    p.exp_backoff = Millis(100);
    p.exp_backoff_max = cap;
    p.max_restarts = std::numeric_limits<int>::max();
    InstanceFsm fsm = online(p);
    const std::vector<Millis> delays = crash_loop(fsm, 5000);
    INFO("cap " << cap.count());
    Millis previous{0};
    for (Millis d : delays) {
      CHECK(d >= previous);  // grows, never wraps around
      CHECK(d > Millis(0));
      CHECK(d <= kMaxTimer);
      previous = d;
    }
    CHECK(delays.back() == kMaxTimer);
    CHECK(fsm.prev_restart_delay() == kMaxTimer);
    CHECK(fsm.restart_count() == 5000);
  }
}

TEST_CASE("huge restart delays and backoffs are clamped, never negative", "[fsm]") {
  SECTION("restart_delay") {
    Policy p = defaults();
    p.restart_delay = Millis::max();
    InstanceFsm fsm = online(p);
    Effects fx = fsm.handle(Event::Exited, at(5000), code(1));
    REQUIRE(fx.arm_restart_timer);
    CHECK(*fx.arm_restart_timer == kMaxTimer);
  }
  SECTION("a first backoff delay of Millis::max()") {
    Policy p = defaults();
    p.exp_backoff = Millis::max();
    p.exp_backoff_max = Millis::max();
    p.max_restarts = 1000;
    InstanceFsm fsm = online(p);
    for (Millis d : crash_loop(fsm, 100)) CHECK(d == kMaxTimer);
  }
  SECTION("negative durations (set in code, not by config) mean 0") {
    Policy p = defaults();
    p.restart_delay = Millis::min();
    InstanceFsm fsm = online(p);
    Effects fx = fsm.handle(Event::Exited, at(5000), code(1));
    CHECK(fsm.state() == State::Launching);  // restart now
    CHECK(fx.spawn);
    p.exp_backoff = Millis(-5);  // no backoff
    fsm.set_policy(p);
    fsm.handle(Event::Spawned, at(5000));
    fsm.handle(Event::Exited, at(9000), code(1));
    CHECK(fsm.state() == State::Launching);
  }
}

TEST_CASE("huge or negative kill_timeout arms a timer within [0, kMaxTimer]", "[fsm]") {
  for (auto [timeout, want] : {std::pair{Millis::max(), kMaxTimer}, std::pair{Millis::min(), Millis(0)},
                               std::pair{Millis(10'000'000'000'000), kMaxTimer}}) {
    Policy p = defaults();
    p.kill_timeout = timeout;
    InstanceFsm fsm = online(p);
    Effects fx = fsm.handle(Event::Stop, at(10));
    REQUIRE(fx.arm_kill_timer);
    CHECK(*fx.arm_kill_timer == want);
  }
}

TEST_CASE("Policy::from saturates millisecond counts beyond Millis' range", "[fsm]") {
  config::AppSpec spec;
  const std::uint64_t huge = std::numeric_limits<std::uint64_t>::max();
  spec.kill_timeout_ms = huge;
  spec.restart_delay_ms = huge;
  spec.min_uptime_ms = huge;
  spec.exp_backoff_restart_delay_ms = huge;
  spec.exp_backoff_max_ms = huge;
  Policy p = Policy::from(spec);
  CHECK(p.kill_timeout == Millis::max());
  CHECK(p.restart_delay == Millis::max());
  CHECK(p.min_uptime == Millis::max());
  CHECK(p.exp_backoff == Millis::max());
  CHECK(p.exp_backoff_max == Millis::max());
  // What the issue saw: a huge kill_timeout sent SIGKILL at once. It arms the longest timer.
  InstanceFsm fsm = online(p);
  Effects fx = fsm.handle(Event::Stop, at(10));
  REQUIRE(fx.arm_kill_timer);
  CHECK(*fx.arm_kill_timer == kMaxTimer);
}

TEST_CASE("min_uptime at the ends of Millis' range", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = 1000;
  p.min_uptime = Millis::max();  // every run is unstable
  InstanceFsm fsm = online(p);
  fsm.handle(Event::Exited, at(60'000), code(1));
  CHECK(fsm.consecutive_unstable() == 1);
  p.min_uptime = Millis::min();  // every run is stable
  fsm.set_policy(p);
  fsm.handle(Event::Spawned, at(60'000));
  fsm.handle(Event::Exited, at(60'000), code(1));
  CHECK(fsm.consecutive_unstable() == 0);
}

TEST_CASE("a restored start time at the ends of the clock gives no overflow", "[fsm]") {
  SECTION("started at the clock's minimum: a very long, stable run") {
    InstanceFsm fsm(defaults());
    fsm.restore(0, 0, 0, TimePoint::min());
    fsm.handle(Event::Adopted, at(10));
    fsm.handle(Event::Exited, at(20), code(1));
    CHECK(fsm.state() == State::Launching);
    CHECK(fsm.consecutive_unstable() == 0);
  }
  SECTION("started in the future: no run at all, unstable") {
    InstanceFsm fsm(defaults());
    fsm.restore(0, 0, 0, TimePoint::max());
    fsm.handle(Event::Adopted, at(10));
    fsm.handle(Event::Exited, at(20), code(1));
    CHECK(fsm.state() == State::Launching);
    CHECK(fsm.consecutive_unstable() == 1);
  }
}

TEST_CASE("counters saturate at INT_MAX", "[fsm]") {
  Policy p = defaults();
  p.max_restarts = std::numeric_limits<int>::max();
  const int top = std::numeric_limits<int>::max();
  InstanceFsm fsm(p);
  fsm.restore(top, top, top - 1, at(0));
  fsm.handle(Event::Adopted, at(0));
  fsm.handle(Event::Exited, at(5000), code(1));  // stable: restarted, count stays at the top
  CHECK(fsm.state() == State::Launching);
  CHECK(fsm.restart_count() == top);
  fsm.handle(Event::Spawned, at(5000));
  fsm.handle(Event::Exited, at(5010), code(1));  // unstable
  CHECK(fsm.unstable_restarts() == top);
  CHECK(fsm.consecutive_unstable() == 1);
}

// ---- Every (state, event) pair -----------------------------------------------------------------

TEST_CASE("every (state, event) pair: no throw, no effect without a change, PM2 statuses",
          "[fsm]") {
  const std::set<std::string> pm2_statuses = {"online",    "stopping", "stopped",
                                              "launching", "errored",  "waiting restart"};
  Policy restart_at_once = defaults();
  Policy no_autorestart = defaults();
  no_autorestart.autorestart = false;
  Policy delayed = with_delay(500);
  delayed.stop_exit_codes = {0};
  delayed.max_restarts = 2;
  const Policy policies[] = {restart_at_once, no_autorestart, delayed};
  const ExitStatus exits[] = {code(0), code(1), killed(SIGKILL), ExitStatus{0, 0, true}};
  const long long times[] = {150, 60'000};  // an unstable and a stable run

  int pairs = 0;
  for (State from : kAllStates) {
    CHECK(pm2_statuses.count(status_name(from)) == 1);
    for (Event ev : kAllEvents) {
      ++pairs;
      for (const Policy& policy : policies) {
        for (ExitStatus exit : exits) {
          for (long long t : times) {
            InstanceFsm fsm = drive_to(from);
            fsm.set_policy(policy);
            const int restarts_before = fsm.restart_count();
            INFO(to_string(from) << " + " << to_string(ev) << " exit(code " << exit.code
                                 << ", signal " << exit.signal << ") at " << t << " ms");
            Effects fx;
            REQUIRE_NOTHROW(fx = fsm.handle(ev, at(t), exit));
            const State to = fsm.state();
            CHECK(pm2_statuses.count(status_name(to)) == 1);

            if (!fx.changed) {
              CHECK(to == from);
              CHECK(fsm.restart_count() == restarts_before);
              const bool sigkill_row = ev == Event::KillTimeout &&
                                       (from == State::Stopping || from == State::Restarting ||
                                        from == State::RestartingUnhealthy);
              // healthy keeps online and only resets the count of unstable restarts.
              const bool healthy_row = ev == Event::Healthy && from == State::Online;
              if (healthy_row) {
                Effects rest = fx;
                rest.transition.reset();
                CHECK(no_effects(rest));
              } else if (sigkill_row) {
                CHECK(fx.signal == SIGKILL);
                Effects rest = fx;
                rest.signal = 0;
                rest.transition.reset();
                CHECK(no_effects(rest));
              } else {
                CHECK(no_effects(fx));
              }
            } else {
              CHECK(fsm.previous() == from);
              CHECK_FALSE(fsm.reason().empty());
            }
            // Effects agree with where the machine went.
            if (fx.spawn) CHECK(to == State::Launching);
            if (to == State::Launching && from != State::Launching) CHECK(fx.spawn);
            if (fx.arm_kill_timer) {
              CHECK((to == State::Stopping || to == State::Restarting || to == State::RestartingUnhealthy));
              CHECK(fx.signal != 0);
            }
            if (fx.arm_restart_timer) CHECK(to == State::WaitingRestart);
            if (to == State::WaitingRestart && from != State::WaitingRestart) {
              CHECK(fx.arm_restart_timer);
            }
            // restart_count moves by at most one per event.
            CHECK(fsm.restart_count() - restarts_before >= 0);
            CHECK(fsm.restart_count() - restarts_before <= 1);
          }
        }
      }
    }
  }
  CHECK(pairs == static_cast<int>(std::size(kAllStates) * std::size(kAllEvents)));
}

}  // namespace
}  // namespace pmx::daemon

namespace pmx::daemon {
namespace {

TEST_CASE("online + exited(stable) with max_restarts 0 -> launching, never errored", "[fsm]") {
  Policy p;
  p.max_restarts = 0;
  InstanceFsm fsm(p);
  fsm.handle(Event::Start, TimePoint{});
  fsm.handle(Event::Spawned, TimePoint{});
  Effects fx = fsm.handle(Event::Exited, TimePoint{} + Millis(5000), ExitStatus{1, 0});
  CHECK(fsm.state() == State::Launching);
  CHECK(fx.spawn);
  fsm.handle(Event::Spawned, TimePoint{} + Millis(5000));
  fsm.handle(Event::Exited, TimePoint{} + Millis(5100), ExitStatus{1, 0});
  CHECK(fsm.state() == State::Errored);  // an unstable exit with max_restarts 0 errors at once
}

}  // namespace
}  // namespace pmx::daemon
