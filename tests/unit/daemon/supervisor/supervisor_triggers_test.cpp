// Supervisor on a fake process layer: what other than an exit makes it act on a run. A reload
// (the replacement beside the old run, the take-over, a failed replacement), the Node channel
// (ready, messages of any shape), cron_restart and watch. The Node channel is real (a socket
// pair): the fake keeps the app's end of it, and the test writes what the app would send.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using pmx::daemon::testing::SupervisorRig;
using json = ipc::json;

namespace {

/// A Node app run with wait_ready (online once it sends 'ready'), never run for real.
json node_app(const std::string& name, const std::string& mode) {
  return {{"name", name}, {"interpreter", "node"}, {"exec_mode", mode}, {"wait_ready", true},
          {"listen_timeout", 30000}};
}

/// Starts a wait_ready Node app and makes its first run say it is ready; returns that run's pid.
pid_t start_ready_node_app(SupervisorRig& rig, const std::string& mode) {
  rig.start_app(node_app("web", mode));
  REQUIRE(rig.run_until([&] { return rig.in().run.pid > 0 && rig.state() == State::Launching; }));
  const pid_t pid = rig.in().run.pid;
  REQUIRE(rig.ops.send_on_channel(pid, "\"ready\""));
  REQUIRE(rig.run_until([&] { return rig.state() == State::Online; }));
  return pid;
}

}  // namespace

TEST_CASE("a reload starts the replacement beside the old run and stops the old one only once the new one is ready",
          "[supervisor][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t old = start_ready_node_app(rig, "cluster");

  rig.call("reload", {{"targets", {"web"}}});
  REQUIRE(rig.run_until([&] { return rig.ops.spawned.size() == 2; }));
  const pid_t replacement = rig.ops.last();
  rig.settle();
  // Until the replacement says it is ready, the old run serves, untouched.
  CHECK(rig.in().run.pid == old);
  CHECK(rig.state() == State::Online);
  CHECK(rig.ops.procs.at(old).signals.empty());
  REQUIRE(rig.in().candidate != nullptr);

  REQUIRE(rig.ops.send_on_channel(replacement, "\"ready\""));
  REQUIRE(rig.run_until([&] { return rig.in().run.pid == replacement && !rig.ops.alive(old); }));
  CHECK(rig.ops.procs.at(old).signals == std::vector<int>{SIGINT});
  CHECK(rig.ops.procs.at(replacement).signals.empty());
  CHECK(rig.state() == State::Online);
  CHECK(rig.in().candidate == nullptr);
  REQUIRE(rig.run_until([&] { return rig.in().retiring.empty(); }));
}

TEST_CASE("a replacement that ends before it is ready fails the reload and the old run goes on serving",
          "[supervisor][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t old = start_ready_node_app(rig, "cluster");

  rig.call("reload", {{"targets", {"web"}}});
  REQUIRE(rig.run_until([&] { return rig.ops.spawned.size() == 2; }));
  const pid_t replacement = rig.ops.last();
  rig.ops.exit_code(replacement, 1);
  REQUIRE(rig.run_until([&] { return rig.in().candidate == nullptr; }));
  rig.settle();
  CHECK(rig.in().run.pid == old);
  CHECK(rig.ops.alive(old));
  CHECK(rig.ops.procs.at(old).signals.empty());
  CHECK(rig.state() == State::Online);
  CHECK(rig.ops.spawned.size() == 2);  // nothing restarted in its place
}

TEST_CASE("process.send('ready') on the Node channel makes a wait_ready app online, which is launching until then",
          "[supervisor][channel]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app(node_app("web", "fork"));
  REQUIRE(rig.run_until([&] { return rig.in().run.pid > 0; }));
  const pid_t pid = rig.in().run.pid;
  rig.settle();
  CHECK(rig.state() == State::Launching);
  REQUIRE(rig.ops.send_on_channel(pid, "\"ready\""));
  REQUIRE(rig.run_until([&] { return rig.state() == State::Online; }));
  CHECK(rig.in().run.pid == pid);
}

TEST_CASE("messages of any shape on the Node channel are ignored and the channel is still read",
          "[supervisor][channel][regression]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app(node_app("web", "fork"));
  REQUIRE(rig.run_until([&] { return rig.in().run.pid > 0; }));
  const pid_t pid = rig.in().run.pid;
  // A PM2 message with a non-string type, an action without a name, a listen request from a
  // fork-mode app, text that is not JSON: none may stop the reading of what follows.
  for (const char* line : {R"({"type":1})", R"({"type":"axm:action","data":{"action_name":7}})",
                           R"({"cmd":"NODE_PMX","pmx":"listen","id":1,"port":3000,"address":null})", "{not json",
                           R"({"type":"process:msg","data":[1,2]})"}) {
    REQUIRE(rig.ops.send_on_channel(pid, line));
  }
  REQUIRE(rig.ops.send_on_channel(pid, "\"ready\""));
  REQUIRE(rig.run_until([&] { return rig.state() == State::Online; }));
  // The listen request was answered with a refusal, not bound: only the preload asks for sockets.
  REQUIRE(rig.run_until([&] { return rig.ops.read_channel(pid).find("\"errno\"") != std::string::npos; }));
  CHECK(rig.in().run.pid == pid);
  CHECK(rig.ops.procs.at(pid).signals.empty());
}

TEST_CASE("cron_restart restarts the app at the next second its schedule names", "[supervisor][cron]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "nightly"}, {"cron_restart", "* * * * * *"}});  // every second
  REQUIRE(rig.online_again(0));
  const pid_t first = rig.in().run.pid;
  rig.advance(Millis(1000));
  REQUIRE(rig.online_again(first));
  CHECK(rig.ops.procs.at(first).signals == std::vector<int>{SIGINT});
  const pid_t second = rig.in().run.pid;
  // And again: the next date is armed after each restart.
  rig.advance(Millis(1000));
  REQUIRE(rig.online_again(second));
  CHECK(rig.in().fsm.restart_count() == 2);
}

TEST_CASE("a stopped app is not restarted by its cron_restart", "[supervisor][cron]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "nightly"}, {"cron_restart", "* * * * * *"}});
  REQUIRE(rig.online_again(0));
  rig.call("stop", {{"targets", {"nightly"}}});
  REQUIRE(rig.run_until([&] { return rig.state() == State::Stopped; }));
  const std::size_t spawned = rig.ops.spawned.size();
  // Two seconds of the schedule pass without a start.
  rig.advance(Millis(2100));
  CHECK(rig.state() == State::Stopped);
  CHECK(rig.ops.spawned.size() == spawned);
}

TEST_CASE("watch restarts the app when a file in its folder changes, and ignore_watch names what does not count",
          "[supervisor][watch]") {
  SupervisorHome home;
  SupervisorHome project;  // outside the home: pmx's own files there never count as changes
  const std::string dir = project.path + "/project";
  std::filesystem::create_directories(dir + "/tmp");
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "dev"}, {"cwd", dir}, {"watch", true}, {"watch_delay", 50}, {"ignore_watch", {"tmp"}}});
  REQUIRE(rig.online_again(0));
  const pid_t first = rig.in().run.pid;
  REQUIRE(rig.run_until([&] { return rig.supervisor->app("dev")->watcher != nullptr; }));

  std::ofstream(dir + "/tmp/cache.txt") << "ignored\n";
  std::ofstream(dir + "/server.js") << "changed\n";
  REQUIRE(rig.online_again(first));
  CHECK(rig.ops.procs.at(first).signals == std::vector<int>{SIGINT});
  CHECK(rig.ops.spawned.size() == 2);  // one restart for the burst

  // A change under the ignored folder alone restarts nothing.
  const pid_t second = rig.in().run.pid;
  std::ofstream(dir + "/tmp/cache.txt") << "ignored again\n";
  const auto until = Clock::now() + std::chrono::milliseconds(500);
  rig.run_until([&] { return Clock::now() >= until; });
  CHECK(rig.in().run.pid == second);
  CHECK(rig.ops.spawned.size() == 2);
}
