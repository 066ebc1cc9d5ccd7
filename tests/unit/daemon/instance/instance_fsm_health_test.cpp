// The health rows of the state machine: an unhealthy run is restarted gracefully and counted
// as an unstable restart; a passing probe resets that count; max_restarts of them in a row
// end errored, not in a restart storm.
#include <catch2/catch.hpp>

#include <csignal>

#include "daemon/instance/instance_fsm.hpp"

namespace pmx::daemon {
namespace {

TimePoint at_ms(long long ms) { return TimePoint{} + Millis(ms); }

InstanceFsm online_at(long long ms, Policy p = Policy{}) {
  InstanceFsm fsm(std::move(p));
  fsm.handle(Event::Start, at_ms(ms));
  fsm.handle(Event::Spawned, at_ms(ms));
  REQUIRE(fsm.state() == State::Online);
  return fsm;
}

}  // namespace

TEST_CASE("online + unhealthy -> restarting_unhealthy: stop signal, kill timer, one unstable restart counted",
          "[fsm][health]") {
  InstanceFsm fsm = online_at(0);
  Effects fx = fsm.handle(Event::Unhealthy, at_ms(60'000));
  CHECK(fsm.state() == State::RestartingUnhealthy);
  CHECK(std::string(status_name(fsm.state())) == "stopping");
  CHECK(fx.signal == SIGINT);
  REQUIRE(fx.arm_kill_timer);
  CHECK(*fx.arm_kill_timer == Millis(1600));
  CHECK_FALSE(fx.spawn);
  CHECK(fsm.consecutive_unstable() == 1);
  CHECK(fsm.unstable_restarts() == 1);
  CHECK_FALSE(is_settled(fsm.state()));
}

TEST_CASE("restarting_unhealthy + exited -> launching: a new run, the count kept", "[fsm][health]") {
  InstanceFsm fsm = online_at(0);
  fsm.handle(Event::Unhealthy, at_ms(60'000));
  Effects fx = fsm.handle(Event::Exited, at_ms(60'100), ExitStatus{0, SIGINT});
  CHECK(fsm.state() == State::Launching);
  CHECK(fx.spawn);
  CHECK(fx.kill_rest);
  CHECK(fx.cancel_timers);
  CHECK(fsm.restart_count() == 1);
  // A run of a minute was stable, but it was unhealthy: the count is not reset.
  CHECK(fsm.consecutive_unstable() == 1);
}

TEST_CASE("restarting_unhealthy + exited [unhealthy_limit_reached] -> errored", "[fsm][health]") {
  Policy p;
  p.max_restarts = 2;
  InstanceFsm fsm = online_at(0, p);
  fsm.handle(Event::Unhealthy, at_ms(10'000));
  fsm.handle(Event::Exited, at_ms(10'100), ExitStatus{0, SIGINT});
  fsm.handle(Event::Spawned, at_ms(10'100));
  fsm.handle(Event::Unhealthy, at_ms(20'000));
  Effects fx = fsm.handle(Event::Exited, at_ms(20'100), ExitStatus{0, SIGINT});
  CHECK(fsm.state() == State::Errored);
  CHECK_FALSE(fx.spawn);
  CHECK(fx.kill_rest);
  CHECK(fsm.reason().find("health check") != std::string::npos);
  CHECK(fsm.reason().find("max_restarts 2") != std::string::npos);
}

TEST_CASE("online + healthy resets the count of unstable restarts and stays online", "[fsm][health]") {
  Policy p;
  p.max_restarts = 2;
  InstanceFsm fsm = online_at(0, p);
  fsm.handle(Event::Unhealthy, at_ms(10'000));
  fsm.handle(Event::Exited, at_ms(10'100), ExitStatus{0, SIGINT});
  fsm.handle(Event::Spawned, at_ms(10'100));
  Effects fx = fsm.handle(Event::Healthy, at_ms(11'000));
  CHECK_FALSE(fx.changed);
  CHECK(fx.transition);
  CHECK(fsm.state() == State::Online);
  CHECK(fsm.consecutive_unstable() == 0);
  // So the next unhealthy run restarts again instead of ending errored.
  fsm.handle(Event::Unhealthy, at_ms(20'000));
  fsm.handle(Event::Exited, at_ms(20'100), ExitStatus{0, SIGINT});
  CHECK(fsm.state() == State::Launching);
}

TEST_CASE("restarting_unhealthy: stop wins, kill_timeout sends SIGKILL", "[fsm][health]") {
  InstanceFsm fsm = online_at(0);
  fsm.handle(Event::Unhealthy, at_ms(10'000));
  Effects kill = fsm.handle(Event::KillTimeout, at_ms(11'600));
  CHECK(kill.signal == SIGKILL);
  CHECK(fsm.state() == State::RestartingUnhealthy);
  fsm.handle(Event::Stop, at_ms(11'700));
  CHECK(fsm.state() == State::Stopping);
  fsm.handle(Event::Exited, at_ms(11'800), ExitStatus{0, SIGKILL});
  CHECK(fsm.state() == State::Stopped);
}

TEST_CASE("unhealthy outside online is a no-op", "[fsm][health]") {
  InstanceFsm fsm(Policy{});
  CHECK_FALSE(fsm.handle(Event::Unhealthy, at_ms(0)).transition);
  fsm.handle(Event::Start, at_ms(0));
  CHECK_FALSE(fsm.handle(Event::Unhealthy, at_ms(1)).transition);
  CHECK(fsm.state() == State::Launching);
}

TEST_CASE("online + replaced_unhealthy stays online with the new run, counted as a health restart",
          "[fsm][health]") {
  Policy p;
  p.max_restarts = 3;
  InstanceFsm fsm = online_at(0, p);
  Effects fx = fsm.handle(Event::ReplacedUnhealthy, at_ms(10'000));
  CHECK(fsm.state() == State::Online);
  CHECK_FALSE(fx.signal);
  CHECK_FALSE(fx.spawn);  // the replacement runs already
  CHECK(fsm.restart_count() == 1);
  CHECK(fsm.consecutive_unstable() == 1);
  CHECK(fsm.unstable_restarts() == 1);
  CHECK(fsm.reason() == "health check failed, replaced");
  // Counted like the restarts in place: with max_restarts 3, the next two unhealthy ends reach
  // the limit (the supervisor restarts in place the one that would).
  fsm.handle(Event::ReplacedUnhealthy, at_ms(20'000));
  CHECK(fsm.consecutive_unstable() == 2);
  fsm.handle(Event::Unhealthy, at_ms(30'000));
  fsm.handle(Event::Exited, at_ms(30'100), ExitStatus{0, SIGINT});
  CHECK(fsm.state() == State::Errored);
  // A reload's take-over resets the count instead.
  InstanceFsm reloaded = online_at(0, p);
  reloaded.handle(Event::ReplacedUnhealthy, at_ms(10'000));
  reloaded.handle(Event::Replaced, at_ms(20'000));
  CHECK(reloaded.consecutive_unstable() == 0);
}

}  // namespace pmx::daemon
