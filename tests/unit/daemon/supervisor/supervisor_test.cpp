// Supervisor: the restart policy carried out through a fake process layer. No fork, no real
// process: the fake hands out pids, the test ends them; time (the state machine's clock and
// every deadline) is moved by the test. The home is a temporary directory (the state file and FIFOs live there).
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <memory>
#include <string>

#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using pmx::daemon::testing::SupervisorRig;
using json = ipc::json;

TEST_CASE("a crash-looping app ends errored after max_restarts unstable exits", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "crash"}, {"max_restarts", 3}, {"min_uptime", 60000}});
  pid_t pid = 0;
  while (rig.state() != State::Errored) {
    REQUIRE(rig.online_again(pid));
    pid = rig.in().run.pid;
    rig.ops.exit_code(pid, 1);
    REQUIRE(rig.run_until([&] { return rig.in().run.pid != pid; }));
    REQUIRE(rig.ops.spawned.size() <= 3);
  }
  CHECK(rig.ops.spawned.size() == 3);
  CHECK(rig.in().fsm.consecutive_unstable() == 3);
  CHECK(rig.in().run.pid == 0);
  rig.settle();
  CHECK(rig.ops.spawned.size() == 3);  // errored: nothing more is started
}

TEST_CASE("a run longer than min_uptime resets the unstable count", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "flaky"}, {"max_restarts", 2}, {"min_uptime", 1000}});
  REQUIRE(rig.online_again(0));
  pid_t pid = rig.in().run.pid;
  rig.ops.exit_code(pid, 1);  // unstable: the clock has not moved
  REQUIRE(rig.online_again(pid));
  CHECK(rig.in().fsm.consecutive_unstable() == 1);

  pid = rig.in().run.pid;
  rig.advance(Millis(5000));  // a stable run
  rig.ops.exit_code(pid, 1);
  REQUIRE(rig.online_again(pid));
  CHECK(rig.in().fsm.consecutive_unstable() == 0);

  pid = rig.in().run.pid;
  rig.ops.exit_code(pid, 1);  // one unstable exit again: below max_restarts, restarted
  REQUIRE(rig.online_again(pid));
  CHECK(rig.in().fsm.consecutive_unstable() == 1);
  CHECK(rig.ops.spawned.size() == 4);
  CHECK(rig.in().fsm.restart_count() == 3);
}

TEST_CASE("an exit code listed in stop_exit_codes ends stopped", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "done"}, {"stop_exit_codes", {3}}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.ops.exit_code(pid, 3);
  REQUIRE(rig.run_until([&] { return rig.state() != State::Online; }));
  CHECK(rig.state() == State::Stopped);
  CHECK(rig.in().last_exit.code == 3);
  rig.settle();
  CHECK(rig.ops.spawned.size() == 1);
}

TEST_CASE("an exit code not in stop_exit_codes is restarted", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "other"}, {"stop_exit_codes", {3}}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.ops.exit_code(pid, 4);
  REQUIRE(rig.online_again(pid));
  CHECK(rig.ops.spawned.size() == 2);
}

TEST_CASE("autorestart false ends stopped after any exit", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "once"}, {"autorestart", false}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.ops.exit_code(pid, 1);
  REQUIRE(rig.run_until([&] { return rig.state() != State::Online; }));
  CHECK(rig.state() == State::Stopped);
  rig.settle();
  CHECK(rig.ops.spawned.size() == 1);
}

TEST_CASE("restart_delay waits in waiting restart, then relaunches", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "slow"}, {"restart_delay", 300}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.ops.exit_code(pid, 1);
  rig.settle();
  CHECK(rig.state() == State::WaitingRestart);
  rig.advance(Millis(299));
  CHECK(rig.state() == State::WaitingRestart);
  CHECK(rig.ops.spawned.size() == 1);
  rig.advance(Millis(1));
  REQUIRE(rig.online_again(pid));
  CHECK(rig.ops.spawned.size() == 2);
  CHECK(rig.in().fsm.restart_count() == 1);
}

TEST_CASE("stop during waiting restart cancels the relaunch", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "held"}, {"restart_delay", 100}});
  REQUIRE(rig.online_again(0));
  rig.ops.exit_code(rig.in().run.pid, 1);
  rig.settle();
  REQUIRE(rig.state() == State::WaitingRestart);
  rig.call("stop", {{"targets", {"held"}}});
  CHECK(rig.state() == State::Stopped);
  // Past the delay, nothing is relaunched.
  rig.advance(Millis(200));
  CHECK(rig.state() == State::Stopped);
  CHECK(rig.ops.spawned.size() == 1);
}

TEST_CASE("stop sends the kill signal once, then SIGKILL after kill_timeout to an app that ignores it",
          "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.ignore_signals = true;
  rig.start_app({{"name", "stubborn"}, {"kill_signal", "SIGTERM"}, {"kill_timeout", 50}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.call("stop", {{"targets", {"stubborn"}}});
  CHECK(rig.state() == State::Stopping);
  // Not a millisecond before kill_timeout.
  rig.advance(Millis(49));
  CHECK(rig.state() == State::Stopping);
  CHECK(rig.ops.procs.at(pid).signals == std::vector<int>{SIGTERM});
  rig.advance(Millis(1));
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped; }));
  CHECK(rig.ops.procs.at(pid).signals == std::vector<int>{SIGTERM, SIGKILL});
  CHECK(rig.in().last_exit.signal == SIGKILL);
  CHECK(rig.ops.spawned.size() == 1);
}

TEST_CASE("stop of an app that obeys sends one signal and no SIGKILL", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "polite"}, {"kill_timeout", 50}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.call("stop", {{"targets", {"polite"}}});
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped; }));
  // Past kill_timeout: the kill deadline was dropped with the stop.
  rig.advance(Millis(100));
  CHECK(rig.ops.procs.at(pid).signals == std::vector<int>{SIGINT});
}

TEST_CASE("a delete waiting on descendants looks at the processes once per exit, not on a timer",
          "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "tree"}, {"kill_timeout", 60000}});
  REQUIRE(rig.online_again(0));
  const pid_t leader = rig.in().run.pid;
  // Two descendants that outlive the leader and ignore its stop signal, reaped by their own
  // parent: pmxd gets no SIGCHLD for them.
  const pid_t first = rig.ops.add_descendant(leader, true);
  const pid_t second = rig.ops.add_descendant(leader, true);
  rig.call("delete", {{"targets", {"tree"}}});
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped && rig.in().run.pid == 0; }));
  rig.settle();
  REQUIRE(rig.ops.member_watches() == 1);
  const std::size_t before = rig.ops.member_queries;

  // While the descendants live on, nothing looks at the processes again (a 20 ms poll would
  // have looked about ten times).
  auto past = Clock::now() + Millis(200);
  REQUIRE(rig.run_until([&] { return Clock::now() > past; }));
  CHECK(rig.ops.member_queries == before);
  REQUIRE(rig.supervisor->instance(0) != nullptr);  // the reply still waits

  // One exit: one more look, and the other descendant is still awaited.
  rig.ops.end(first, ExitStatus{});
  REQUIRE(rig.run_until([&] { return rig.ops.member_queries > before; }));
  past = Clock::now() + Millis(100);
  REQUIRE(rig.run_until([&] { return Clock::now() > past; }));
  CHECK(rig.ops.member_queries == before + 1);
  REQUIRE(rig.supervisor->instance(0) != nullptr);

  // The last exit answers the delete at once.
  rig.ops.end(second, ExitStatus{});
  REQUIRE(rig.run_until([&] { return rig.supervisor->instance(0) == nullptr; }));
  CHECK(rig.ops.member_queries == before + 2);
  CHECK(rig.ops.member_watches() == 0);  // the watch ended with the wait
}

TEST_CASE("leftover processes a scan missed at the leader's exit are killed when the stop waits on them",
          "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.ops.kill_rest_kills = true;
  rig.ops.kill_rest_misses = 1;  // the kill that follows the leader's exit finds nothing
  rig.supervisor->start();
  rig.start_app({{"name", "tree"}, {"kill_timeout", 60000}});
  REQUIRE(rig.online_again(0));
  const pid_t stubborn = rig.ops.add_descendant(rig.in().run.pid, true);
  rig.call("stop", {{"targets", {"tree"}}});
  // The stop is answered once the descendant is gone, killed by the waiting stop itself.
  REQUIRE(rig.run_until([&] { return !rig.ops.alive(stubborn); }));
  CHECK(rig.ops.kill_rest_calls >= 2);
  CHECK(rig.state() == State::Stopped);
}

TEST_CASE("a stop whose instance has no process left answers without watching", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "lone"}, {"kill_timeout", 60000}});
  REQUIRE(rig.online_again(0));
  rig.call("stop", {{"targets", {"lone"}}});
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped; }));
  rig.settle();
  CHECK(rig.ops.member_watches() == 0);
}

TEST_CASE("restart signals the running process once and starts a new one", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "again"}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.call("restart", {{"targets", {"again"}}});
  REQUIRE(rig.online_again(pid));
  CHECK(rig.ops.procs.at(pid).signals == std::vector<int>{SIGINT});
  CHECK(rig.ops.spawned.size() == 2);
  CHECK(rig.in().fsm.restart_count() == 1);
}

TEST_CASE("a restart or reload while pmxd shuts down starts nothing, and the shutdown goes on",
          "[supervisor][shutdown][regression]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.ignore_signals = true;  // slow keeps the shutdown going until its kill_timeout
  rig.start_app({{"name", "slow"}, {"kill_timeout", 300}});
  rig.ops.ignore_signals = false;
  rig.start_app({{"name", "quick"}});
  REQUIRE(rig.run_until([&] { return rig.state(0) == State::Online && rig.state(1) == State::Online; }));
  rig.call("kill", json::object());
  REQUIRE(rig.run_until([&] { return rig.state(1) == State::Stopped; }));
  REQUIRE(rig.state(0) == State::Stopping);
  const std::size_t spawned = rig.ops.spawned.size();
  rig.call("restart", {{"targets", {"quick"}}});
  rig.call("reload", {{"targets", {"quick"}}});
  rig.call("scale", {{"name", "quick"}, {"count", "+1"}});
  rig.settle();
  CHECK(rig.state(1) == State::Stopped);
  CHECK(rig.ops.spawned.size() == spawned);
  // slow ends at its kill_timeout; then pmxd is done (its loop stopped).
  rig.advance(Millis(300));
  REQUIRE(rig.run_until([&] { return rig.state(0) == State::Stopped || rig.io.stopped(); }));
  CHECK(rig.ops.spawned.size() == spawned);
}

TEST_CASE("memory over max_memory_restart restarts the app", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path, Millis(5));
  rig.supervisor->start();
  rig.start_app({{"name", "hog"}, {"max_memory_restart", "100M"}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  rig.ops.procs.at(pid).rss = 50ull << 20;
  // Below the limit it keeps running.
  rig.advance(Millis(5));
  REQUIRE(rig.in().usage.rss_bytes == (50ull << 20));
  CHECK(rig.in().run.pid == pid);
  rig.ops.procs.at(pid).rss = 200ull << 20;
  rig.advance(Millis(5));
  REQUIRE(rig.online_again(pid));
  CHECK(rig.ops.procs.at(pid).signals == std::vector<int>{SIGINT});
  CHECK(rig.ops.spawned.size() == 2);
}

TEST_CASE("an exec failure is reported and handled as an exit", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.fail_exec = std::make_pair(ENOENT, std::string("exec"));
  rig.start_app({{"name", "missing"}, {"autorestart", false}});
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped; }));
  CHECK(rig.in().last_exit.code == 127);
  CHECK(rig.in().run.exec_error.find("/bin/sh") != std::string::npos);
  CHECK(rig.ops.spawned.size() == 1);
}

TEST_CASE("a failed fork is a spawn failure, restarted per policy", "[supervisor]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.fail_fork = true;
  rig.start_app({{"name", "nofork"}, {"max_restarts", 2}, {"min_uptime", 60000}});
  REQUIRE(rig.run_until([&] { return rig.state() == State::Errored; }));
  CHECK(rig.in().run.exec_error.find("fork failed") != std::string::npos);
  CHECK(rig.ops.spawned.empty());
}

namespace {

/// Runs a first supervisor in home until app is online, then drops it as a crash would (no
/// stop, no clean exit), leaving its state file. Returns the app's pid and start ticks.
std::pair<pid_t, std::uint64_t> run_and_crash(const std::string& home, const json& app) {
  SupervisorRig first(home);
  first.supervisor->start();
  first.start_app(app);
  REQUIRE(first.online_again(0));
  const pid_t pid = first.in().run.pid;
  const std::uint64_t start = first.ops.procs.at(pid).start;
  first.settle();  // the state file is written from the loop, after the changes of a turn
  REQUIRE(std::filesystem::exists(home + "/state.json"));
  return {pid, start};
}

}  // namespace

TEST_CASE("a new supervisor adopts a recorded process that is still the same one", "[supervisor]") {
  SupervisorHome home;
  auto [pid, start] = run_and_crash(home.path, {{"name", "kept"}, {"script", "/bin/sh"}});
  SupervisorRig second(home.path);
  second.ops.add_foreign(pid, start);
  second.supervisor->start();
  CHECK(second.state() == State::Online);
  CHECK(second.in().run.pid == pid);
  second.settle();
  CHECK(second.ops.spawned.empty());  // adopted: nothing is started twice

  // Its exit is seen through the watch, with no code, and handled by the policy.
  second.ops.end(pid, ExitStatus{});
  REQUIRE(second.online_again(pid));
  CHECK(second.in().last_exit.unknown);
  CHECK(second.ops.spawned.size() == 1);
  CHECK(second.in().fsm.restart_count() == 1);
}

TEST_CASE("a recorded process that died meanwhile is restarted as an exit of unknown code", "[supervisor]") {
  SupervisorHome home;
  auto [pid, start] = run_and_crash(home.path, {{"name", "gone"}, {"script", "/bin/sh"}});
  SupervisorRig second(home.path);
  second.supervisor->start();
  REQUIRE(second.online_again(pid));
  CHECK(second.in().last_exit.unknown);
  CHECK(second.ops.spawned.size() == 1);
}

TEST_CASE("a recorded pid reused by another process is not adopted", "[supervisor]") {
  SupervisorHome home;
  auto [pid, start] = run_and_crash(home.path, {{"name", "reused"}, {"script", "/bin/sh"}});
  SupervisorRig second(home.path);
  second.ops.add_foreign(pid, start + 1);  // same pid, another process
  second.supervisor->start();
  REQUIRE(second.online_again(pid));
  CHECK(second.ops.procs.at(pid).signals.empty());  // the stranger is left alone
  CHECK(second.ops.spawned.size() == 1);
}

TEST_CASE("a recorded process that died meanwhile stays stopped with autorestart false", "[supervisor]") {
  SupervisorHome home;
  auto [pid, start] = run_and_crash(home.path, {{"name", "quiet"}, {"script", "/bin/sh"}, {"autorestart", false}});
  (void)start;
  SupervisorRig second(home.path);
  second.supervisor->start();
  REQUIRE(second.run_until([&] { return second.state() == State::Stopped; }));
  CHECK(second.in().run.pid == 0);
  second.settle();
  CHECK(second.ops.spawned.empty());
}

namespace {

std::vector<int> ids_of(const App* app) {
  std::vector<int> ids;
  if (app) {
    for (const auto& [id, in] : app->instances()) ids.push_back(id);
  }
  return ids;
}

}  // namespace

TEST_CASE("the instances of one name make one app, which goes with its last instance", "[supervisor][app]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "web"}, {"instances", 3}});
  rig.call("start", {{"app", {{"name", "api"}, {"script", "/bin/true"}}}});
  REQUIRE(rig.run_until([&] { return rig.supervisor->instance(3) != nullptr; }));
  CHECK(ids_of(rig.supervisor->app("web")) == std::vector<int>{0, 1, 2});
  CHECK(ids_of(rig.supervisor->app("api")) == std::vector<int>{3});
  for (int id = 0; id < 3; ++id) CHECK(rig.in(id).app_instance == id);

  rig.call("delete", {{"targets", {1}}});
  REQUIRE(rig.run_until([&] { return rig.supervisor->instance(1) == nullptr; }));
  CHECK(ids_of(rig.supervisor->app("web")) == std::vector<int>{0, 2});

  // A forced start of the name joins the app and takes the index 1 left free.
  rig.call("start", {{"app", {{"name", "web"}, {"script", "/bin/sh"}}}, {"force", true}});
  REQUIRE(rig.run_until([&] { return rig.supervisor->instance(4) != nullptr; }));
  CHECK(ids_of(rig.supervisor->app("web")) == std::vector<int>{0, 2, 4});
  CHECK(rig.in(4).app_instance == 1);

  rig.call("delete", {{"targets", {"web"}}});
  REQUIRE(rig.run_until([&] { return rig.supervisor->app("web") == nullptr; }));
  for (int id : {0, 2, 4}) CHECK(rig.supervisor->instance(id) == nullptr);
  CHECK(ids_of(rig.supervisor->app("api")) == std::vector<int>{3});
}

TEST_CASE("a new supervisor rebuilds the apps from the state file", "[supervisor][app]") {
  SupervisorHome home;
  {
    SupervisorRig first(home.path);
    first.supervisor->start();
    first.start_app({{"name", "web"}, {"instances", 2}, {"autostart", false}});
    first.call("start", {{"app", {{"name", "api"}, {"script", "/bin/true"}, {"autostart", false}}}});
    first.call("start", {{"app", {{"name", "web"}, {"script", "/bin/sh"}, {"autostart", false}}}, {"force", true}});
    REQUIRE(first.run_until([&] { return first.supervisor->instance(3) != nullptr; }));
    first.settle();  // the state file is written from the loop
  }
  SupervisorRig second(home.path);
  second.supervisor->start();
  CHECK(ids_of(second.supervisor->app("web")) == std::vector<int>{0, 1, 3});
  CHECK(ids_of(second.supervisor->app("api")) == std::vector<int>{2});
  CHECK(second.in(3).app_instance == 2);
  CHECK(second.state(3) == State::Stopped);
}

TEST_CASE("a start's instances are all in the state file before the first of them is spawned", "[supervisor]") {
  // A pmxd killed while a hundred apps start must leave no process its successor does not
  // know of: each instance is recorded before its first spawn (its pid after it, the
  // successor adopting a run without one through its marker).
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  json apps = json::array();
  for (const char* name : {"a", "b", "c"}) apps.push_back({{"name", name}, {"script", "/bin/sh"}});
  rig.call("start", {{"apps", apps}});
  // Nothing of the loop has run since the request: what a kill -9 now would leave on disk.
  REQUIRE(rig.ops.spawned.size() == 3);
  std::ifstream in(home.path + "/state.json");
  const json state = json::parse(in, nullptr, false);
  REQUIRE(state.is_object());
  std::set<std::string> recorded;
  for (const auto& record : state.value("instances", json::array())) {
    recorded.insert(record["spec"].value("name", ""));
    CHECK(record.value("state", "") == "launching");  // to start: its successor starts it
  }
  CHECK(recorded == std::set<std::string>{"a", "b", "c"});
}

TEST_CASE("a start waiting for its user's lookup when pmxd begins to shut down is refused, and nothing starts",
          "[supervisor][shutdown]") {
  if (::geteuid() != 0) {
    WARN("skipped: only root pmxd runs apps as another user (uid), so only it looks users up");
    return;
  }
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  // The user is looked up off the loop; the request resumes once it is in, after the kill.
  auto start = rig.ask("start", {{"app", {{"name", "late"}, {"script", "/bin/sh"}, {"uid", "nobody"}}}});
  rig.call("kill", json::object());
  REQUIRE(rig.run_until([&] { return start.reply().has_value(); }));
  const json reply = *start.reply();
  REQUIRE(reply.contains("error"));
  CHECK(reply.at("error").at("code") == static_cast<int>(ipc::ErrorCode::ShuttingDown));
  CHECK(rig.ops.spawned.empty());
  CHECK(rig.supervisor->app("late") == nullptr);
}

TEST_CASE("instances a killed pmxd had registered but not spawned are started by its successor", "[supervisor]") {
  SupervisorHome home;
  {
    SupervisorRig first(home.path);
    first.supervisor->start();
    json apps = json::array();
    for (const char* name : {"a", "b"}) apps.push_back({{"name", name}, {"script", "/bin/sh"}});
    first.call("start", {{"apps", apps}});
    // Killed here: the file names both instances, with no pid yet, and their processes (fake)
    // leave no marker behind.
  }
  SupervisorRig second(home.path);
  second.supervisor->start();
  REQUIRE(second.run_until([&] { return second.state(0) == State::Online && second.state(1) == State::Online; }));
  CHECK(second.ops.spawned.size() == 2);
  for (int id : {0, 1}) {
    CHECK(second.in(id).fsm.restart_count() == 0);  // never ran: no restart, no exit of unknown code
    CHECK_FALSE(second.in(id).exited_once);
  }
}
