// Supervisor with depends_on on a fake process layer: a dependent is held launching with no pid
// until every instance of its dependency is online; an errored dependency leaves it waiting with
// the reason; stop all stops dependents first and their dependencies once they are stopped; a
// start naming no app, or closing a cycle, starts nothing.
#include <catch2/catch.hpp>

#include <signal.h>

#include <string>
#include <vector>

#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using pmx::daemon::testing::SupervisorRig;
using json = ipc::json;

namespace {

json order_app(const std::string& name, json options = json::object()) {
  options["name"] = name;
  options["script"] = "/bin/sh";  // never run: the fake spawns nothing
  return options;
}

}  // namespace

TEST_CASE("a dependent waits launching with no pid until every instance of its dependency is online",
          "[supervisor][start_order]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.hold_exec_reports = true;  // db's instances stay launching until the test says
  // web first: ids 0 (web), 1 and 2 (db).
  rig.call("start", {{"apps", json::array({order_app("web", {{"depends_on", "db"}}), order_app("db", {{"instances", 2}})})}});
  REQUIRE(rig.run_until([&] { return rig.ops.unreported().size() == 2; }));
  rig.settle();
  CHECK(rig.state(0) == State::Launching);
  CHECK(rig.in(0).run.pid == 0);
  CHECK(rig.in(0).start_blocker == "waiting for db");
  CHECK(rig.ops.spawned.size() == 2);

  REQUIRE(rig.ops.report_exec(rig.in(1).run.pid));
  REQUIRE(rig.run_until([&] { return rig.state(1) == State::Online; }));
  rig.settle();
  CHECK(rig.in(0).run.pid == 0);  // one of db's two is not online yet
  CHECK(rig.ops.spawned.size() == 2);

  REQUIRE(rig.ops.report_exec(rig.in(2).run.pid));
  REQUIRE(rig.run_until([&] { return rig.in(0).run.pid != 0; }));
  CHECK(rig.ops.spawned.size() == 3);
  CHECK(rig.in(0).start_blocker.empty());
}

TEST_CASE("an errored dependency leaves its dependent waiting with the reason, and a stop ends the wait",
          "[supervisor][start_order]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  // db (id 0) runs, never says it is ready, and crashes: errored at once (one unstable exit of
  // max_restarts 1).
  rig.call("start", {{"apps", json::array({order_app("db", {{"max_restarts", 1}, {"min_uptime", 60000},
                                                            {"wait_ready", true}, {"listen_timeout", 60000}}),
                                           order_app("web", {{"depends_on", json::array({"db"})}})})}});
  REQUIRE(rig.run_until([&] { return rig.in(0).run.pid != 0 && rig.in(0).awaiting_ready; }));
  rig.ops.exit_code(rig.in(0).run.pid, 1);
  REQUIRE(rig.run_until([&] { return rig.state(0) == State::Errored; }));
  rig.settle();
  CHECK(rig.state(1) == State::Launching);
  CHECK(rig.in(1).run.pid == 0);
  CHECK(rig.in(1).start_blocker == "waiting for db (errored)");
  CHECK(rig.ops.spawned.size() == 1);

  rig.call("stop", {{"targets", json::array({"web"})}});
  REQUIRE(rig.run_until([&] { return rig.state(1) == State::Stopped; }));
  CHECK(rig.in(1).start_blocker.empty());
  CHECK(rig.ops.spawned.size() == 1);
}

TEST_CASE("stop all stops the dependents, and their dependencies only once they are stopped",
          "[supervisor][start_order]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.call("start", {{"apps", json::array({order_app("db")})}});
  REQUIRE(rig.online_again(0, 0));
  rig.ops.ignore_signals = true;  // web stops only at its SIGKILL, after kill_timeout
  rig.call("start", {{"apps", json::array({order_app("web", {{"depends_on", "db"}, {"kill_timeout", 300}})})}});
  REQUIRE(rig.online_again(0, 1));
  const pid_t db = rig.in(0).run.pid;
  const pid_t web = rig.in(1).run.pid;

  rig.call("stop", {{"targets", json::array({"all"})}});
  rig.settle();
  CHECK(rig.state(1) == State::Stopping);
  CHECK(rig.ops.procs[web].signals == std::vector<int>{SIGINT});
  CHECK(rig.state(0) == State::Online);
  CHECK(rig.ops.procs[db].signals.empty());

  rig.advance(Millis(300));  // web's kill_timeout
  REQUIRE(rig.run_until([&] { return rig.state(0) == State::Stopped; }));
  CHECK(rig.state(1) == State::Stopped);
  CHECK(rig.ops.procs[web].signals == std::vector<int>{SIGINT, SIGKILL});
  CHECK(rig.ops.procs[db].signals == std::vector<int>{SIGINT});
}

TEST_CASE("a start naming an app pmxd does not have, or closing a cycle, registers and starts nothing",
          "[supervisor][start_order]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.call("start", {{"apps", json::array({order_app("web", {{"depends_on", "cache"}})})}});
  rig.call("start", {{"apps", json::array({order_app("a", {{"depends_on", "b"}}), order_app("b", {{"depends_on", "a"}})})}});
  rig.settle();
  CHECK(rig.supervisor->app("web") == nullptr);
  CHECK(rig.supervisor->app("a") == nullptr);
  CHECK(rig.supervisor->app("b") == nullptr);
  CHECK(rig.ops.spawned.empty());
}
