// Crash loops of many apps: spawns in flight are bounded (SpawnQueue), the rest wait their turn
// in launching; a stop, delete or shutdown takes a waiting spawn out of the queue; an exit's
// uptime is how long its process ran, not how late pmxd heard of it. On the fake process layer,
// whose exec reports the test holds back as CPU contention would.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using pmx::daemon::testing::SupervisorRig;
using json = ipc::json;

namespace {

/// The most SpawnQueue::default_limit() ever is (2 per core, at most 32): more instances than
/// that cannot all be in flight at once.
constexpr std::size_t kMostInFlight = 32;
constexpr int kCrashLoopInstances = 40;

/// How many instances of the rig are in state s.
int count_in(const SupervisorRig& rig, State s) {
  int n = 0;
  for (int id = 0; id < kCrashLoopInstances; ++id) {
    if (const Instance* in = rig.supervisor->instance(id); in && in->fsm.state() == s) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a crash loop of many instances keeps the spawns in flight bounded", "[supervisor][spawn_queue][regression]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.hold_exec_reports = true;  // no child reaches its exec yet
  rig.start_app({{"name", "loop"}, {"instances", kCrashLoopInstances}, {"max_restarts", 3}, {"min_uptime", 1000}});
  rig.settle();
  // Before the bound every instance forked at once, each holding an exec-report pipe.
  INFO("forked before any exec was reported: " << rig.ops.spawned.size());
  REQUIRE(rig.ops.spawned.size() <= kMostInFlight);
  REQUIRE(rig.ops.spawned.size() < static_cast<std::size_t>(kCrashLoopInstances));
  CHECK(count_in(rig, State::Launching) == kCrashLoopInstances);
  const std::size_t bound = rig.ops.spawned.size();

  // Each report lets one more in; every child exits at once: all end errored, never more than
  // the bound in flight.
  std::size_t most = 0;
  REQUIRE(rig.run_until([&] {
    const auto waiting = rig.ops.unreported();
    most = std::max(most, waiting.size());
    if (!waiting.empty()) rig.ops.report_exec(waiting.front());
    const auto still = rig.ops.unreported();
    const std::set<pid_t> held(still.begin(), still.end());
    for (const auto& [pid, p] : rig.ops.procs) {
      if (p.alive && !p.ending && !held.count(pid)) rig.ops.exit_code(pid, 1);
    }
    return count_in(rig, State::Errored) == kCrashLoopInstances;
  }));
  CHECK(most <= bound);
  CHECK(rig.ops.spawned.size() == static_cast<std::size_t>(3 * kCrashLoopInstances));
}

TEST_CASE("a stop of an instance waiting for its spawn's turn ends stopped without a fork", "[supervisor][spawn_queue]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.hold_exec_reports = true;
  rig.start_app({{"name", "many"}, {"instances", kCrashLoopInstances}});
  rig.settle();
  const std::size_t forked = rig.ops.spawned.size();
  REQUIRE(forked < static_cast<std::size_t>(kCrashLoopInstances));
  const int last = kCrashLoopInstances - 1;  // waits: the queue is FIFO
  REQUIRE(rig.state(last) == State::Launching);
  REQUIRE(rig.in(last).run.pid == 0);

  rig.call("stop", {{"targets", {std::to_string(last)}}});
  REQUIRE(rig.run_until([&] { return rig.state(last) == State::Stopped; }));
  CHECK(rig.in(last).fsm.reason() == "stopped before its spawn's turn came");

  // Every other instance gets its turn; the stopped one never forks.
  REQUIRE(rig.run_until([&] {
    for (pid_t pid : rig.ops.unreported()) rig.ops.report_exec(pid);
    return count_in(rig, State::Online) == kCrashLoopInstances - 1;
  }));
  CHECK(rig.ops.spawned.size() == static_cast<std::size_t>(kCrashLoopInstances - 1));
  CHECK(rig.state(last) == State::Stopped);
}

TEST_CASE("a delete of instances waiting for their turn removes them without a fork", "[supervisor][spawn_queue]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.hold_exec_reports = true;
  rig.start_app({{"name", "many"}, {"instances", kCrashLoopInstances}});
  rig.settle();
  const std::size_t forked = rig.ops.spawned.size();
  rig.call("delete", {{"targets", {"many"}}});
  // The forked ones are stopped once they run; the waiting ones go at once.
  REQUIRE(rig.run_until([&] {
    for (pid_t pid : rig.ops.unreported()) rig.ops.report_exec(pid);
    return rig.supervisor->instance(0) == nullptr && rig.supervisor->instance(kCrashLoopInstances - 1) == nullptr;
  }));
  rig.settle();
  CHECK(rig.ops.spawned.size() == forked);
}

TEST_CASE("a run that lasted less than min_uptime is unstable even when pmxd heard of its exit late",
          "[supervisor][regression]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "late"}, {"max_restarts", 3}, {"min_uptime", 1000}});
  pid_t pid = 0;
  for (int exits = 0; exits < 3; ++exits) {
    REQUIRE(rig.online_again(pid));
    pid = rig.in().run.pid;
    rig.advance(Millis(5000));  // pmxd's clock: the loop was busy, the exit handled 5 s on
    ExitStatus exit;
    exit.code = 1;
    exit.ran_for = Millis(40);  // the process's own: it exited at once
    rig.ops.end(pid, exit);
    REQUIRE(rig.run_until([&] { return rig.in().run.pid != pid; }));
  }
  CHECK(rig.state() == State::Errored);
  CHECK(rig.in().fsm.consecutive_unstable() == 3);
}
