// Supervisor's timed policy on fake processes and a fake clock: restart delays and backoff,
// max_restarts and min_uptime, kill_timeout, wait_ready and listen_timeout, a reload's
// replacement and the run it replaces, cron_restart, watch, max_memory_restart and the Node
// channel. Each test moves the clock itself: a deadline fires when the clock reaches it, not a
// millisecond before, and nothing waits on the wall clock.
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
using Signals = std::vector<int>;

namespace {

/// Starts app; its first run is online once the loop has run (the fake confirms the exec).
pid_t start_online(SupervisorRig& rig, const json& app) {
  rig.start_app(app);
  rig.settle();
  REQUIRE(rig.state() == State::Online);
  return rig.in().run.pid;
}

/// A Node app that says when it is ready (wait_ready), never run for real.
json ready_app(const std::string& name, const std::string& mode, int listen_timeout_ms) {
  return {{"name", name}, {"interpreter", "node"}, {"exec_mode", mode}, {"wait_ready", true},
          {"listen_timeout", listen_timeout_ms}};
}

/// Writes line on pid's Node channel and runs the loop until the supervisor has read it.
void send(SupervisorRig& rig, pid_t pid, const std::string& line) {
  REQUIRE(rig.ops.send_on_channel(pid, line));
  rig.settle();
}

/// Starts a wait_ready app (ready_app) and has its first run say it is ready: online.
pid_t start_ready(SupervisorRig& rig, const json& app) {
  rig.start_app(app);
  rig.settle();
  const pid_t pid = rig.in().run.pid;
  send(rig, pid, "\"ready\"");
  REQUIRE(rig.run_until([&] { return rig.state() == State::Online; }));
  return pid;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Restarts

TEST_CASE("exp_backoff_restart_delay: each unstable exit waits 1.5 times longer, relaunched at that time",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  pid_t pid = start_online(rig, {{"name", "backoff"}, {"exp_backoff_restart_delay", 100}});
  for (const int delay : {100, 150, 225}) {
    rig.ops.exit_code(pid, 1);
    rig.settle();
    REQUIRE(rig.state() == State::WaitingRestart);
    rig.advance(Millis(delay - 1));
    CHECK(rig.state() == State::WaitingRestart);
    rig.advance(Millis(1));
    REQUIRE(rig.state() == State::Online);
    REQUIRE(rig.in().run.pid != pid);
    pid = rig.in().run.pid;
  }
  CHECK(rig.ops.spawned.size() == 4);
  CHECK(rig.in().fsm.restart_count() == 3);
}

TEST_CASE("max_restarts unstable exits in a row end errored, and nothing is relaunched later", "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t first =
      start_online(rig, {{"name", "flaky"}, {"restart_delay", 100}, {"max_restarts", 2}, {"min_uptime", 1000}});
  rig.ops.exit_code(first, 1);
  rig.settle();
  REQUIRE(rig.state() == State::WaitingRestart);
  rig.advance(Millis(100));
  REQUIRE(rig.state() == State::Online);
  rig.ops.exit_code(rig.in().run.pid, 1);
  rig.settle();
  CHECK(rig.state() == State::Errored);
  rig.advance(Millis(60'000));
  CHECK(rig.state() == State::Errored);
  CHECK(rig.ops.spawned.size() == 2);
}

TEST_CASE("min_uptime: a run of min_uptime is stable and restarted, one a millisecond shorter is unstable",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  // max_restarts 1: a single unstable exit ends errored.
  pid_t pid = start_online(rig, {{"name", "edge"}, {"max_restarts", 1}, {"min_uptime", 1000}});
  rig.advance(Millis(1000));
  rig.ops.exit_code(pid, 1);
  rig.settle();
  REQUIRE(rig.state() == State::Online);
  CHECK(rig.in().fsm.consecutive_unstable() == 0);
  pid = rig.in().run.pid;
  rig.advance(Millis(999));
  rig.ops.exit_code(pid, 1);
  rig.settle();
  CHECK(rig.state() == State::Errored);
  CHECK(rig.ops.spawned.size() == 2);
}

// ---------------------------------------------------------------------------------------------
// Stops

TEST_CASE("a restart of an app that ignores its kill_signal: SIGKILL exactly at kill_timeout, then the new run",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.ignore_signals = true;
  const pid_t old = start_online(rig, {{"name", "deaf"}, {"kill_signal", "SIGTERM"}, {"kill_timeout", 3000}});
  rig.ops.ignore_signals = false;
  rig.call("restart", {{"targets", {"deaf"}}});
  rig.settle();
  CHECK(rig.state() == State::Restarting);
  CHECK(rig.ops.procs.at(old).signals == Signals{SIGTERM});
  rig.advance(Millis(2999));
  CHECK(rig.ops.procs.at(old).signals == Signals{SIGTERM});
  CHECK(rig.ops.spawned.size() == 1);
  rig.advance(Millis(1));
  CHECK(rig.ops.procs.at(old).signals == Signals{SIGTERM, SIGKILL});
  REQUIRE(rig.state() == State::Online);
  CHECK(rig.in().run.pid != old);
}

TEST_CASE("a stop during a restart keeps the restart's kill deadline: SIGKILL at its kill_timeout, nothing started",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.ops.ignore_signals = true;
  const pid_t pid = start_online(rig, {{"name", "deaf"}, {"kill_timeout", 1000}});
  rig.call("restart", {{"targets", {"deaf"}}});
  rig.advance(Millis(600));
  rig.call("stop", {{"targets", {"deaf"}}});
  rig.settle();
  REQUIRE(rig.state() == State::Stopping);
  rig.advance(Millis(399));
  CHECK(rig.ops.procs.at(pid).signals == Signals{SIGINT});
  rig.advance(Millis(1));
  CHECK(rig.ops.procs.at(pid).signals == Signals{SIGINT, SIGKILL});
  CHECK(rig.state() == State::Stopped);
  rig.advance(Millis(10'000));
  CHECK(rig.ops.spawned.size() == 1);
}

TEST_CASE("a stop whose app leaves a process that outlives it answers at the reply deadline (120 s), not before",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t pid = start_online(rig, {{"name", "leaky"}});
  const pid_t stuck = rig.ops.add_descendant(pid, true);  // as one stuck in the kernel: nothing ends it
  auto stop = rig.ask("stop", {{"targets", {"leaky"}}});
  rig.settle();
  REQUIRE(rig.state() == State::Stopped);
  rig.advance(Millis(119'999));
  CHECK_FALSE(stop.reply());
  rig.advance(Millis(1));
  REQUIRE(stop.reply());
  CHECK(stop.reply()->contains("result"));
  CHECK(rig.ops.alive(stuck));
}

// ---------------------------------------------------------------------------------------------
// wait_ready and listen_timeout

TEST_CASE("wait_ready: launching until the app sends 'ready', then online without a warning", "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app(ready_app("web", "fork", 5000));
  rig.settle();
  REQUIRE(rig.in().run.pid > 0);
  REQUIRE(rig.in().awaiting_ready);
  rig.advance(Millis(4000));
  CHECK(rig.state() == State::Launching);
  send(rig, rig.in().run.pid, "\"ready\"");
  REQUIRE(rig.run_until([&] { return rig.state() == State::Online; }));
  // listen_timeout went with the wait: it does not fire later.
  rig.advance(Millis(5000));
  CHECK(rig.state() == State::Online);
  CHECK(rig.in().ready_warning.empty());
}

TEST_CASE("wait_ready without a ready message: online at listen_timeout, not before, with the warning",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app(ready_app("web", "fork", 5000));
  rig.settle();
  REQUIRE(rig.in().run.pid > 0);
  rig.advance(Millis(4999));
  CHECK(rig.state() == State::Launching);
  CHECK(rig.in().ready_warning.empty());
  rig.advance(Millis(1));
  CHECK(rig.state() == State::Online);
  CHECK(rig.in().ready_warning == no_ready_message(rig.in().spec));
}

TEST_CASE("the listen_timeout of a run that exited before it was ready never reaches the next run",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app(ready_app("web", "fork", 5000));
  rig.settle();
  const pid_t first = rig.in().run.pid;
  rig.advance(Millis(3000));
  rig.ops.exit_code(first, 1);  // restarted at once (no restart_delay): a wait of its own
  rig.settle();
  REQUIRE(rig.in().run.pid != first);
  REQUIRE(rig.state() == State::Launching);
  rig.advance(Millis(2000));  // the first run's listen_timeout
  CHECK(rig.state() == State::Launching);
  rig.advance(Millis(2999));
  CHECK(rig.state() == State::Launching);
  rig.advance(Millis(1));  // the second run's
  CHECK(rig.state() == State::Online);
}

// ---------------------------------------------------------------------------------------------
// Reload (cluster mode)

TEST_CASE("reload: the replacement takes over once ready, the old run is signalled and SIGKILLed at kill_timeout",
          "[supervisor][policy][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  json app = ready_app("web", "cluster", 5000);
  app["kill_timeout"] = 1000;
  rig.ops.ignore_signals = true;  // the old run lingers after its signal
  const pid_t old = start_ready(rig, app);
  rig.ops.ignore_signals = false;

  auto reload = rig.ask("reload", {{"targets", {"web"}}});
  rig.settle();
  REQUIRE(rig.ops.spawned.size() == 2);
  const pid_t replacement = rig.ops.last();
  rig.advance(Millis(4000));  // beside the old run, which serves untouched
  CHECK(rig.in().run.pid == old);
  CHECK(rig.ops.procs.at(old).signals.empty());
  CHECK_FALSE(reload.reply());

  send(rig, replacement, "\"ready\"");
  REQUIRE(rig.run_until([&] { return rig.in().run.pid == replacement; }));
  CHECK(rig.ops.procs.at(old).signals == Signals{SIGINT});
  CHECK(rig.state() == State::Online);
  REQUIRE(rig.in().retiring.size() == 1);
  rig.advance(Millis(999));
  CHECK(rig.ops.procs.at(old).signals == Signals{SIGINT});
  rig.advance(Millis(1));
  CHECK(rig.ops.procs.at(old).signals == Signals{SIGINT, SIGKILL});
  rig.settle();
  CHECK(rig.in().retiring.empty());
  REQUIRE(rig.run_until([&] { return reload.reply().has_value(); }));
  CHECK(reload.reply()->contains("result"));
  CHECK(rig.in().fsm.restart_count() == 1);
}

TEST_CASE("reload: a replacement that exits before it is ready fails the reload with the error, the old run serves on",
          "[supervisor][policy][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t old = start_ready(rig, ready_app("web", "cluster", 5000));
  auto reload = rig.ask("reload", {{"targets", {"web"}}});
  rig.settle();
  const pid_t replacement = rig.ops.last();
  rig.advance(Millis(1000));
  rig.ops.exit_code(replacement, 3);
  REQUIRE(rig.run_until([&] { return reload.reply().has_value(); }));
  const json reply = *reload.reply();
  REQUIRE(reply.contains("error"));
  CHECK(reply.at("error").at("message").get<std::string>().find("exited with code 3 before it was ready") != std::string::npos);
  CHECK(rig.in().run.pid == old);
  CHECK(rig.ops.procs.at(old).signals.empty());
  CHECK(rig.in().candidate == nullptr);
  // Its wait went with it: listen_timeout passes and nothing takes over.
  rig.advance(Millis(10'000));
  CHECK(rig.in().run.pid == old);
  CHECK(rig.state() == State::Online);
  CHECK(rig.ops.spawned.size() == 2);
}

TEST_CASE("reload: the replacement is killed when the old run ends meanwhile, and the reload answers why",
          "[supervisor][policy][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  json app = ready_app("web", "cluster", 5000);
  app["restart_delay"] = 1000;
  const pid_t old = start_ready(rig, app);
  auto reload = rig.ask("reload", {{"targets", {"web"}}});
  rig.settle();
  const pid_t replacement = rig.ops.last();
  rig.ops.exit_code(old, 1);
  rig.settle();
  CHECK(rig.state() == State::WaitingRestart);
  CHECK(rig.ops.procs.at(replacement).signals == Signals{SIGKILL});
  REQUIRE(rig.run_until([&] { return reload.reply().has_value(); }));
  CHECK(reload.reply()->contains("error"));
  rig.settle();
  CHECK(rig.in().retiring.empty());
  rig.advance(Millis(1000));  // the restart policy goes on
  CHECK(rig.state() == State::Launching);
}

TEST_CASE("reload: a replacement whose exec fails fails the reload with the error, the old run serves on",
          "[supervisor][policy][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t old = start_ready(rig, ready_app("web", "cluster", 5000));

  rig.ops.fail_exec = std::make_pair(ENOENT, std::string("exec"));
  auto reload = rig.ask("reload", {{"targets", {"web"}}});
  rig.settle();
  REQUIRE(rig.run_until([&] { return reload.reply().has_value(); }));
  const json reply = *reload.reply();
  REQUIRE(reply.contains("error"));
  CHECK(reply.at("error").at("message").get<std::string>().find("goes on serving") != std::string::npos);
  CHECK(rig.in().run.pid == old);
  CHECK(rig.ops.alive(old));
  CHECK(rig.ops.procs.at(old).signals.empty());
  CHECK(rig.in().candidate == nullptr);
  rig.advance(Millis(10'000));
  CHECK(rig.in().run.pid == old);
  CHECK(rig.state() == State::Online);
}

TEST_CASE("reload: a replacement alive at listen_timeout without a ready message takes over then, not before",
          "[supervisor][policy][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t old = start_ready(rig, ready_app("web", "cluster", 5000));
  rig.call("reload", {{"targets", {"web"}}});
  rig.settle();
  const pid_t replacement = rig.ops.last();
  rig.advance(Millis(4999));
  CHECK(rig.in().run.pid == old);
  rig.advance(Millis(1));
  CHECK(rig.in().run.pid == replacement);
  CHECK(rig.in().ready_warning == no_ready_message(rig.in().spec));
  CHECK(rig.ops.procs.at(old).signals == Signals{SIGINT});
}

TEST_CASE("reload replaces one instance at a time: the next starts once the first has taken over",
          "[supervisor][policy][reload]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  json app = ready_app("web", "cluster", 5000);
  app["instances"] = 2;
  rig.start_app(app);
  rig.settle();
  const pid_t old0 = rig.in(0).run.pid;
  const pid_t old1 = rig.in(1).run.pid;
  send(rig, old0, "\"ready\"");
  send(rig, old1, "\"ready\"");
  REQUIRE(rig.run_until([&] { return rig.state(0) == State::Online && rig.state(1) == State::Online; }));

  auto reload = rig.ask("reload", {{"targets", {"web"}}});
  rig.settle();
  REQUIRE(rig.ops.spawned.size() == 3);
  const pid_t new0 = rig.ops.last();
  CHECK(rig.in(0).candidate != nullptr);
  CHECK(rig.in(1).candidate == nullptr);
  send(rig, new0, "\"ready\"");
  REQUIRE(rig.run_until([&] { return rig.ops.spawned.size() == 4; }));
  CHECK(rig.in(0).run.pid == new0);
  CHECK(rig.in(1).run.pid == old1);
  REQUIRE(rig.in(1).candidate != nullptr);
  send(rig, rig.ops.last(), "\"ready\"");
  REQUIRE(rig.run_until([&] { return reload.reply().has_value(); }));
  CHECK(reload.reply()->contains("result"));
  CHECK(rig.in(1).run.pid == rig.ops.last());
}

// ---------------------------------------------------------------------------------------------
// Restart triggers: cron, watch, memory

TEST_CASE("cron_restart restarts the online app at the schedule's next time and records the restart as cron",
          "[supervisor][policy][cron]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  const pid_t first = start_online(rig, {{"name", "nightly"}, {"cron_restart", "*/5 * * * * *"}});
  // The next multiple of 5 s on the wall clock, in whole milliseconds from now.
  const auto wall = rig.timers.wall_now().time_since_epoch();
  const Millis to_next = Millis(5000) - std::chrono::duration_cast<Millis>(wall) % Millis(5000);
  rig.advance(to_next - Millis(1));
  CHECK(rig.in().run.pid == first);
  rig.advance(Millis(1));
  REQUIRE(rig.in().run.pid != first);
  CHECK(rig.state() == State::Online);
  CHECK(rig.in().last_exit_reason == ExitReason::Cron);
  CHECK(rig.ops.procs.at(first).signals == Signals{SIGINT});
}

TEST_CASE("cron_restart restarts nothing once pmxd shuts down, even an instance still online", "[supervisor][policy][cron][shutdown]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  // db stays online while the shutdown waits for web, its dependent, to stop (kill_timeout).
  rig.call("start", {{"apps", json::array({json{{"name", "db"}, {"script", "/bin/sh"}, {"cron_restart", "* * * * * *"}}})}});
  rig.settle();
  rig.ops.ignore_signals = true;
  rig.call("start", {{"apps", json::array({json{{"name", "web"}, {"script", "/bin/sh"}, {"depends_on", "db"},
                                                {"kill_timeout", 5000}}})}});
  rig.settle();
  REQUIRE(rig.state(1) == State::Online);
  rig.call("kill", json::object());
  rig.settle();
  REQUIRE(rig.state(1) == State::Stopping);
  REQUIRE(rig.state(0) == State::Online);
  rig.advance(Millis(4000));  // four of db's cron seconds pass
  CHECK(rig.state(0) == State::Online);
  CHECK(rig.ops.procs.at(rig.in(0).run.pid).signals.empty());
  CHECK(rig.ops.spawned.size() == 2);
}

TEST_CASE("max_memory_restart: a sampling tick over the limit restarts the online instance, one below does not",
          "[supervisor][policy]") {
  SupervisorHome home;
  SupervisorRig rig(home.path, Millis(1000));
  rig.supervisor->start();
  const pid_t pid = start_online(rig, {{"name", "hog"}, {"max_memory_restart", "100M"}});
  rig.ops.procs.at(pid).rss = 100ull << 20;  // at the limit, not over it
  rig.advance(Millis(1000));
  CHECK(rig.in().run.pid == pid);
  rig.ops.procs.at(pid).rss = (100ull << 20) + 1;
  rig.advance(Millis(999));
  CHECK(rig.in().run.pid == pid);  // read only at the tick
  rig.advance(Millis(1));
  REQUIRE(rig.in().run.pid != pid);
  CHECK(rig.state() == State::Online);
  CHECK(rig.in().last_exit_reason == ExitReason::MaxMemoryRestart);
}

// ---------------------------------------------------------------------------------------------
// The Node channel

TEST_CASE("a non-string message type leaves the Node channel readable", "[supervisor][policy][channel][regression]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app(ready_app("web", "fork", 5000));
  rig.settle();
  const pid_t pid = rig.in().run.pid;
  send(rig, pid, R"({"type":1})");
  send(rig, pid, R"({"type":"no such message","data":{}})");  // an app's own: ignored
  CHECK(rig.state() == State::Launching);
  send(rig, pid, "\"ready\"");
  REQUIRE(rig.run_until([&] { return rig.state() == State::Online; }));
  CHECK(rig.in().run.pid == pid);
  CHECK(rig.ops.procs.at(pid).signals.empty());
  CHECK(rig.in().ready_warning.empty());
}
