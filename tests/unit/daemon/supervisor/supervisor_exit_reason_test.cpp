// Supervisor on a fake process layer: the reason each run ended, as it lands on the instance
// (pm2_env.last_exit_reason): the run's own end, and each thing that makes pmxd end a run.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using pmx::daemon::testing::SupervisorRig;
using json = ipc::json;

namespace {

/// The reason instance id's last run ended, "" while none has.
std::string reason_of(const SupervisorRig& rig, int id = 0) {
  const auto& r = rig.in(id).last_exit_reason;
  return r ? to_string(*r) : "";
}

}  // namespace

TEST_CASE("a run that ends on its own ends for exit or signal, and pmxd's requests name themselves",
          "[supervisor][exit_reason]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "app"}, {"min_uptime", 0}});
  REQUIRE(rig.online_again(0));
  CHECK(reason_of(rig).empty());

  pid_t pid = rig.in().run.pid;
  rig.ops.exit_code(pid, 2);
  REQUIRE(rig.online_again(pid));
  CHECK(reason_of(rig) == "exit");
  CHECK(rig.in().last_exit_at_ms > 0);

  pid = rig.in().run.pid;
  ExitStatus segv;
  segv.signal = SIGSEGV;
  rig.ops.end(pid, segv);
  REQUIRE(rig.online_again(pid));
  CHECK(reason_of(rig) == "signal");

  pid = rig.in().run.pid;
  rig.call("restart", {{"targets", {"app"}}});
  REQUIRE(rig.online_again(pid));
  CHECK(reason_of(rig) == "restart");

  pid = rig.in().run.pid;
  rig.call("reload", {{"targets", {"app"}}});  // fork mode: a restart
  REQUIRE(rig.online_again(pid));
  CHECK(reason_of(rig) == "reload");

  rig.call("stop", {{"targets", {"app"}}});
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped; }));
  CHECK(reason_of(rig) == "stop");
}

TEST_CASE("a memory restart ends the run for max_memory_restart", "[supervisor][exit_reason]") {
  SupervisorHome home;
  SupervisorRig rig(home.path, Millis(5));
  rig.supervisor->start();
  rig.start_app({{"name", "hog"}, {"max_memory_restart", "100M"}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.ops.procs.at(pid).rss = 200ull << 20;
  rig.advance(Millis(5));  // the sampling tick
  REQUIRE(rig.online_again(pid));
  CHECK(reason_of(rig) == "max_memory_restart");
}

TEST_CASE("a run that outlives its kill_timeout still ends for what stopped it", "[supervisor][exit_reason]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.ignore_signals = true;
  rig.start_app({{"name", "stubborn"}, {"kill_timeout", 20}});
  REQUIRE(rig.online_again(0));
  rig.call("stop", {{"targets", {"stubborn"}}});
  rig.advance(Millis(20));
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped; }));
  CHECK(rig.in().last_exit.signal == SIGKILL);
  CHECK(reason_of(rig) == "stop");
}

TEST_CASE("cron_restart ends the run for cron", "[supervisor][exit_reason][cron]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "nightly"}, {"cron_restart", "* * * * * *"}});
  REQUIRE(rig.online_again(0));
  const pid_t first = rig.in().run.pid;
  rig.advance(Millis(1000));
  REQUIRE(rig.online_again(first));
  CHECK(reason_of(rig) == "cron");
  // The cause went with that restart: the next restart the user asks for is a restart.
  const pid_t pid = rig.in().run.pid;
  rig.call("restart", {{"targets", {"nightly"}}});
  REQUIRE(rig.online_again(pid));
  CHECK(reason_of(rig) == "restart");
}

TEST_CASE("a changed watched file ends the run for watch", "[supervisor][exit_reason][watch]") {
  SupervisorHome home;
  SupervisorHome project;
  const std::string dir = project.path + "/project";
  std::filesystem::create_directories(dir);
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "dev"}, {"cwd", dir}, {"watch", true}, {"watch_delay", 50}});
  REQUIRE(rig.online_again(0));
  const pid_t first = rig.in().run.pid;
  REQUIRE(rig.run_until([&] { return rig.supervisor->app("dev")->watcher != nullptr; }));
  std::ofstream(dir + "/server.js") << "changed\n";
  REQUIRE(rig.online_again(first));
  CHECK(reason_of(rig) == "watch");
}

TEST_CASE("a reload asked for while launching (no row) leaves no cause for a later restart", "[supervisor][exit_reason]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.hold_exec_reports = true;  // the instance stays launching: a restart there has no row
  rig.start_app({{"name", "slow"}, {"min_uptime", 0}});
  REQUIRE(rig.run_until([&] { return rig.in().run.pid > 0 && rig.state() == State::Launching; }));
  const pid_t pid = rig.in().run.pid;
  rig.call("reload", {{"targets", {"slow"}}});
  rig.settle();
  CHECK_FALSE(rig.in().restart_cause);
  rig.ops.hold_exec_reports = false;
  REQUIRE(rig.ops.report_exec(pid));
  REQUIRE(rig.run_until([&] { return rig.state() == State::Online; }));
  rig.call("restart", {{"targets", {"slow"}}});
  REQUIRE(rig.online_again(pid));
  CHECK(reason_of(rig) == "restart");
}
