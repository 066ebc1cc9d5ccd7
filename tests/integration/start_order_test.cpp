// Start order (depends_on) with the real pmxd and real Node apps: web starts only once db is
// ready (it says so late, with process.send('ready')); an errored db leaves web waiting, with
// the reason; stop all, kill and SIGTERM stop web before db, and so does a pmxd that adopted
// them after a crash; a cycle or a name that is no app is a configuration error (exit 2) naming
// it with the file's line, and nothing starts; resurrect keeps the order.
#include <signal.h>

#include <fstream>
#include <future>
#include <memory>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// A Node app that appends "<event> <APP>" lines to $EVENTS: "start" once it runs, "ready" just
/// before process.send('ready') (once the file $READY_GATE exists, or $READY_AFTER_MS after its
/// start), "stop" when it ends on SIGINT or SIGTERM ($STOP_DELAY_MS later).
std::string write_ordered_app(const TempHome& home) {
  const std::string path = home.scratch("ordered.js");
  std::ofstream(path) << R"JS(
const fs = require('fs');
const name = process.env.APP;
const note = (what) => fs.appendFileSync(process.env.EVENTS, what + ' ' + name + '\n');
const ready = () => { note('ready'); process.send('ready'); };
if (process.env.READY_GATE) {
  const poll = setInterval(() => {
    if (fs.existsSync(process.env.READY_GATE)) { clearInterval(poll); ready(); }
  }, 20);
} else if (process.env.READY_AFTER_MS) {
  setTimeout(ready, Number(process.env.READY_AFTER_MS));
}
const stop = () => setTimeout(() => { note('stop'); process.exit(0); }, Number(process.env.STOP_DELAY_MS || 0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1000);
note('start');  // last: once it is written, the signal handlers are in place
)JS";
  return path;
}

std::string write_order_file(const TempHome& home, const std::string& name, const std::string& text) {
  const std::string path = home.scratch(name);
  std::ofstream(path) << text;
  return path;
}

/// One app of an ecosystem file running the ordered app as name, with extra YAML lines.
std::string app_yaml(const std::string& script, const std::string& name, const std::string& events,
                     const std::string& env, const std::string& extra) {
  return "  - name: " + name + "\n"
         "    script: " + script + "\n"
         "    kill_timeout: 5s\n"
         "    env: {APP: " + name + ", EVENTS: " + events + env + "}\n" + extra;
}

/// The index of a line in lines, or -1.
long line_index(const std::vector<std::string>& lines, const std::string& line) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] == line) return static_cast<long>(i);
  }
  return -1;
}

/// Waits until the events file holds line (a Node app is online before its first line runs).
bool event_seen(const std::string& events, const std::string& line) {
  return wait_until([&] { return line_index(read_lines(events), line) >= 0; }, 15s);
}

std::string status_reason_of(const json& app) {
  const json& r = app["pm2_env"]["status_reason"];
  return r.is_string() ? r.get<std::string>() : "";
}

}  // namespace

TEST_CASE("web depends on db: it starts only once db has said it is ready, waiting launching meanwhile",
          "[integration][start_order][node]") {
  REQUIRE(have_node());
  Session s;
  const std::string script = write_ordered_app(s.home);
  const std::string events = s.home.scratch("events");
  const std::string gate = s.home.scratch("db-ready");
  // web first in the file: file order would start it first.
  const std::string eco = write_order_file(s.home, "eco.yaml",
      "apps:\n" +
      app_yaml(script, "web", events, "", "    depends_on: db\n") +
      app_yaml(script, "db", events, ", READY_GATE: " + gate, "    wait_ready: true\n    listen_timeout: 60s\n"));
  // start answers once both are online: it runs beside the test while db is not ready.
  auto started = std::async(std::launch::async, [&] { return run_pmx(s.home.path(), {"start", eco}); });
  REQUIRE(event_seen(events, "start db"));
  // db runs, not ready; web waits, with no process, and says for what.
  REQUIRE(wait_until([&] {
    auto web = s.find_app("web");
    return web && status_reason_of(*web) == "waiting for db";
  }, 10s));
  CHECK(s.status("db") == "launching");
  CHECK(s.status("web") == "launching");
  CHECK(s.app("web").value("pid", -1) == 0);
  CHECK(line_index(read_lines(events), "start web") == -1);

  std::ofstream(gate) << "go\n";
  REQUIRE(started.wait_for(20s) == std::future_status::ready);
  CHECK_EXIT(started.get(), 0);
  CHECK(s.status("db") == "online");
  CHECK(s.status("web") == "online");
  REQUIRE(event_seen(events, "start web"));
  const auto lines = read_lines(events);
  INFO(read_file(events).value_or(""));
  REQUIRE(line_index(lines, "ready db") >= 0);
  CHECK(line_index(lines, "ready db") < line_index(lines, "start web"));
  CHECK(status_reason_of(s.app("web")) != "waiting for db");
}

TEST_CASE("a dependency that errors before it is ready leaves its dependent waiting, not started, with the reason",
          "[integration][start_order]") {
  Session s;
  const std::string events = s.home.scratch("events");
  const std::string eco = write_order_file(s.home, "eco.yaml",
      "apps:\n"
      "  - name: db\n"
      "    script: " + std::string(bin::kExitAfter) + "\n"
      "    args: [100, 3]\n"
      "    wait_ready: true\n"
      "    listen_timeout: 60s\n"
      "    max_restarts: 1\n"
      "    min_uptime: 1h\n"
      "  - name: web\n"
      "    script: " + std::string(bin::kSleeper) + "\n"
      "    depends_on: [db]\n");
  // start answers (db errored, web will not start by itself) rather than hanging.
  const RunResult r = s.pmx({"start", eco});
  CHECK_EXIT(r, 1);
  CHECK(mentions(r.err, "web (id 1) not started: waiting for db (errored)"));
  CHECK(s.wait_status("db", "errored"));
  const json web = s.app("web");
  CHECK(s.status("web") == "launching");
  CHECK(web.value("pid", -1) == 0);
  CHECK(status_reason_of(web) == "waiting for db (errored)");
  // pmx.log is written once a second.
  CHECK(wait_until([&] { return mentions(read_file(s.home.daemon_log()).value_or(""), "web:1 waiting for db (errored)"); }, 5s));
  // And stop takes it out of the wait at once.
  REQUIRE_EXIT(s.pmx({"stop", "web"}), 0);
  CHECK(s.status("web") == "stopped");
}

TEST_CASE("stop all, kill and SIGTERM to pmxd stop web, and wait for it, before db",
          "[integration][start_order][node]") {
  REQUIRE(have_node());
  const auto start_pair = [](Session& s, const std::string& events) {
    const std::string script = write_ordered_app(s.home);
    // db stops at once, web takes 500 ms: stopped together, db would end first.
    const std::string eco = write_order_file(s.home, "eco.yaml",
        "apps:\n" +
        app_yaml(script, "db", events, "", "") +
        app_yaml(script, "web", events, ", STOP_DELAY_MS: 500", "    depends_on: db\n"));
    REQUIRE_EXIT(s.pmx({"start", eco}), 0);
    REQUIRE(s.wait_status("web", "online"));
    REQUIRE(event_seen(events, "start web"));
    REQUIRE(event_seen(events, "start db"));
  };
  const auto check_order = [](const std::string& events) {
    const auto lines = read_lines(events);
    INFO(read_file(events).value_or(""));
    REQUIRE(line_index(lines, "stop web") >= 0);
    REQUIRE(line_index(lines, "stop db") >= 0);
    CHECK(line_index(lines, "stop web") < line_index(lines, "stop db"));
  };
  SECTION("stop all") {
    Session s;
    const std::string events = s.home.scratch("events");
    start_pair(s, events);
    REQUIRE_EXIT(s.pmx({"stop", "all"}), 0);
    check_order(events);
  }
  SECTION("kill") {
    Session s;
    const std::string events = s.home.scratch("events");
    start_pair(s, events);
    REQUIRE_EXIT(s.pmx({"kill"}), 0);
    check_order(events);
  }
  SECTION("SIGTERM to pmxd, as systemd stops it") {
    Session s;
    const std::string events = s.home.scratch("events");
    start_pair(s, events);
    REQUIRE(::kill(s.daemon.pid(), SIGTERM) == 0);
    REQUIRE(s.daemon.wait_exit(20s) == 0);
    check_order(events);
  }
}

TEST_CASE("a pmxd that adopts the apps after a crash still stops web before db", "[integration][start_order][node]") {
  REQUIRE(have_node());
  TempHome home;
  const std::string script = write_ordered_app(home);
  const std::string events = home.scratch("events");
  const std::string eco = write_order_file(home, "eco.yaml",
      "apps:\n" +
      app_yaml(script, "db", events, "", "") +
      app_yaml(script, "web", events, ", STOP_DELAY_MS: 500", "    depends_on: db\n"));
  auto first = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", eco}), 0);
  REQUIRE(event_seen(events, "start web"));
  REQUIRE(event_seen(events, "start db"));
  first->crash();  // SIGKILL: the apps run on, state.json says what they are

  DaemonProcess second(home);
  const json list = jlist_of(home);
  REQUIRE(list.size() == 2);
  for (const auto& app : list) {
    CHECK(app["pm2_env"].value("status", "") == "online");
    if (app.value("name", "") == "web") CHECK(app["pm2_env"]["depends_on"] == json::array({"db"}));
  }
  REQUIRE_EXIT(run_pmx(home.path(), {"stop", "all"}), 0);
  const auto lines = read_lines(events);
  INFO(read_file(events).value_or(""));
  REQUIRE(line_index(lines, "stop web") >= 0);
  REQUIRE(line_index(lines, "stop db") >= 0);
  CHECK(line_index(lines, "stop web") < line_index(lines, "stop db"));
}

TEST_CASE("a depends_on cycle is a configuration error naming it and its line, exit 2, nothing started",
          "[integration][start_order]") {
  Session s;
  const std::string eco = write_order_file(s.home, "eco.yaml",
      "apps:\n"
      "  - name: a\n"
      "    script: " + std::string(bin::kSleeper) + "\n"
      "    depends_on: b\n"
      "  - name: b\n"
      "    script: " + std::string(bin::kSleeper) + "\n"
      "    depends_on: [a]\n");
  const RunResult r = s.pmx({"start", eco});
  CHECK_EXIT(r, 2);
  CHECK(mentions(r.err, "eco.yaml:4:5: app 'a': option 'depends_on' makes a cycle: a -> b -> a"));
  CHECK(s.jlist().empty());
}

TEST_CASE("a depends_on name that is no app of the file nor of pmxd is an error naming it, exit 2, nothing started",
          "[integration][start_order]") {
  Session s;
  const std::string eco = write_order_file(s.home, "eco.yaml",
      "apps:\n"
      "  - name: db\n"
      "    script: " + std::string(bin::kSleeper) + "\n"
      "  - name: web\n"
      "    script: " + std::string(bin::kSleeper) + "\n"
      "    depends_on: [db, cache]\n");
  const RunResult r = s.pmx({"start", eco});
  CHECK_EXIT(r, 2);
  CHECK(mentions(r.err, "eco.yaml:6:5: app 'web': option 'depends_on' names 'cache', which is no app of the file nor of pmx"));
  CHECK(s.jlist().empty());

  // The same from the command line, checked by pmxd.
  const RunResult cli = s.pmx({"start", bin::kSleeper, "--name", "web", "--depends-on", "db,cache"});
  CHECK_EXIT(cli, 2);
  CHECK(mentions(cli.err, "option 'depends_on' names 'db', which is no app of pmx"));
  CHECK(s.jlist().empty());

  // A name pmxd already runs is known: the file may leave it out.
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "cache"}), 0);
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  CHECK(s.status("web") == "online");
}

TEST_CASE("resurrect starts web only once db is ready, as the dump keeps depends_on",
          "[integration][start_order][node]") {
  REQUIRE(have_node());
  TempHome home;
  const std::string script = write_ordered_app(home);
  const std::string events = home.scratch("events");
  const std::string eco = write_order_file(home, "eco.yaml",
      "apps:\n" +
      app_yaml(script, "web", events, "", "    depends_on: db\n") +
      app_yaml(script, "db", events, ", READY_AFTER_MS: 800", "    wait_ready: true\n    listen_timeout: 60s\n"));
  {
    DaemonProcess daemon(home);
    REQUIRE_EXIT(run_pmx(home.path(), {"start", eco}), 0);
    REQUIRE_EXIT(run_pmx(home.path(), {"save"}), 0);
  }
  std::ofstream(events, std::ios::trunc).flush();
  DaemonProcess daemon(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"resurrect"}), 0);
  const json list = jlist_of(home);
  REQUIRE(list.size() == 2);
  for (const auto& app : list) {
    CHECK(app["pm2_env"].value("status", "") == "online");
    if (app.value("name", "") == "web") CHECK(app["pm2_env"]["depends_on"] == json::array({"db"}));
  }
  REQUIRE(event_seen(events, "start web"));
  const auto lines = read_lines(events);
  INFO(read_file(events).value_or(""));
  REQUIRE(line_index(lines, "ready db") >= 0);
  CHECK(line_index(lines, "ready db") < line_index(lines, "start web"));
}
