// Health checks against real apps under the real pmxd: a Node http server whose /health starts
// failing is restarted for health_check and healthy again once it passes; tcp and exec checks
// (an exec probe that hangs is killed at its timeout, its process group with it); in cluster
// mode each instance is probed through its own port; a bad health_check is refused with its
// file and line.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// A Node server: PORT serves the app; /health answers 200, or 500 while the file
/// fail-<NODE_APP_INSTANCE> exists in its folder. With HEALTH_PORT, /health is served there
/// (a port per instance) instead.
std::string write_health_server(const TempHome& home) {
  const std::string path = home.scratch("server.js");
  std::ofstream(path) << R"JS(
const http = require('http');
const fs = require('fs');
const me = process.env.NODE_APP_INSTANCE || '0';
const health = (req, res) => {
  const failing = fs.existsSync(__dirname + '/fail-' + me);
  res.writeHead(failing ? 500 : 200);
  res.end(failing ? 'failing' : 'ok');
};
if (process.env.HEALTH_PORT) {
  http.createServer(health).listen(Number(process.env.HEALTH_PORT), '127.0.0.1');
  http.createServer((req, res) => res.end('app ' + me)).listen(Number(process.env.PORT));
} else {
  http.createServer((req, res) => req.url === '/health' ? health(req, res) : res.end('app'))
      .listen(Number(process.env.PORT), '127.0.0.1');
}
)JS";
  return path;
}

std::string write_scratch(const TempHome& home, const std::string& name, const std::string& text) {
  const std::string path = home.scratch(name);
  std::ofstream(path) << text;
  return path;
}

std::string health_of(Session& s, const std::string& name) {
  const auto app = s.find_app(name);
  if (!app) return "";
  const json& h = (*app)["pm2_env"]["health"];
  return h.is_string() ? h.get<std::string>() : "";
}

bool health_becomes(Session& s, const std::string& name, const std::string& health, milliseconds timeout = 15s) {
  return wait_until([&] { return health_of(s, name) == health; }, timeout);
}

}  // namespace

TEST_CASE("an http check restarts a Node app whose /health fails, which is healthy again once it passes",
          "[integration][health]") {
  REQUIRE(have_node());
  Session s;
  const std::string server = write_health_server(s.home);
  const int port = free_port();
  const std::string eco = write_scratch(s.home, "eco.yaml",
                                     "apps:\n"
                                     "  - name: web\n"
                                     "    script: " + server + "\n"
                                     "    port: " + std::to_string(port) + "\n"
                                     "    kill_timeout: 1000\n"
                                     "    health_check:\n"
                                     "      http: http://127.0.0.1:{port}/health\n"
                                     "      interval: 200ms\n"
                                     "      timeout: 1s\n"
                                     "      retries: 2\n");
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  REQUIRE(health_becomes(s, "web", "healthy"));
  json env = s.app("web")["pm2_env"];
  CHECK(env["health_last_result"] == "ok: HTTP 200");
  CHECK(env["health_last_at"].is_number());
  CHECK(env["restart_time"] == 0);
  const pid_t first = s.wait_pid("web");
  // list has a health column; describe the last probe.
  CHECK(mentions(s.pmx({"list"}).out, "health"));
  CHECK(mentions(s.pmx({"describe", "web"}).out, "ok: HTTP 200 at "));

  std::ofstream(s.home.scratch("fail-0")) << "x";
  REQUIRE(wait_until([&] { return s.app("web")["pm2_env"]["last_exit_reason"] == "health_check"; }, 15s));
  CHECK(s.app("web")["pm2_env"]["restart_time"].get<int>() >= 1);
  CHECK_FALSE(process_alive(first));
  std::filesystem::remove(s.home.scratch("fail-0"));
  REQUIRE(health_becomes(s, "web", "healthy"));
  CHECK(s.status("web") == "online");

  // pmx.log has a line for every change (pmxd flushes its log once a second).
  for (const char* line : {"health: starting -> healthy (ok: HTTP 200)",
                           "-> unhealthy (2 consecutive failures, the last: HTTP 500)", "(exit reason: health_check)"}) {
    INFO(line);
    CHECK(wait_until([&] { return mentions(read_file(s.home.daemon_log()).value_or(""), line); }, 5s));
  }
}

TEST_CASE("failures within start_period do not count: an app failing from its start turns unhealthy only after it",
          "[integration][health]") {
  REQUIRE(have_node());
  Session s;
  const std::string server = write_health_server(s.home);
  std::ofstream(s.home.scratch("fail-0")) << "x";  // failing from the first probe
  const std::string eco = write_scratch(s.home, "eco.yaml",
                                     "apps:\n"
                                     "  - name: slow\n"
                                     "    script: " + server + "\n"
                                     "    port: " + std::to_string(free_port()) + "\n"
                                     "    kill_timeout: 1000\n"
                                     "    health_check:\n"
                                     "      http: http://127.0.0.1:{port}/health\n"
                                     "      interval: 200ms\n"
                                     "      retries: 2\n"
                                     "      start_period: 2s\n");
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  const pid_t first = s.wait_pid("slow");
  REQUIRE(wait_until([&] { return s.app("slow")["pm2_env"]["last_exit_reason"] == "health_check"; }, 20s));
  // By pmxd's own clock (its log's time stamps; a late pmxd is late, never early): the run was
  // probed from 200 ms on and failed every probe, yet turned unhealthy only once start_period had
  // passed, after two more failures. Counted from the start, it would have been at 400 ms.
  std::string log;
  const std::string starting = "slow:0 health: none -> starting (pid " + std::to_string(first) + ")";
  REQUIRE(wait_until([&] {
    log = read_file(s.home.daemon_log()).value_or("");
    return mentions(log, starting) && mentions(log, "slow:0 health: starting -> unhealthy");
  }, 10s));
  INFO(log);
  auto ms_of_line = [&](const std::string& part) -> long long {
    const auto at = log.find(part);
    const auto line_start = log.rfind('\n', at) + 1;  // npos + 1 == 0 for the first line
    // "2026-12-07 18:01:57.738 info ...": the time of day, in ms.
    const std::string t = log.substr(line_start + 11, 12);
    return ((std::stoll(t.substr(0, 2)) * 60 + std::stoll(t.substr(3, 2))) * 60 + std::stoll(t.substr(6, 2))) * 1000 +
           std::stoll(t.substr(9, 3));
  };
  long long elapsed = ms_of_line("slow:0 health: starting -> unhealthy") - ms_of_line(starting);
  if (elapsed < 0) elapsed += 24LL * 3600 * 1000;  // across midnight
  CHECK(elapsed >= 2000);
  // No failure was counted within the period: the first counted one is 1/2, after it.
  CHECK(mentions(log, "slow:0 health check failed (1/2)"));
}

TEST_CASE("a tcp check passes while the app listens and an exec check that hangs is killed at its timeout with what it started",
          "[integration][health]") {
  REQUIRE(have_node());
  Session s;
  const std::string server = write_health_server(s.home);
  const int port = free_port();
  const std::string marker = s.home.scratch("probe-pids");
  // The exec check starts a grandchild and waits: both must be gone after the timeout.
  const std::string hang = write_scratch(s.home, "hang.sh", "#!/bin/sh\nsleep 30 &\necho $$ $! >> " + marker + "\nwait\n");
  std::filesystem::permissions(hang, std::filesystem::perms::owner_all);
  const std::string eco = write_scratch(
      s.home, "eco.json",
      "{\"apps\": [{\"name\": \"tcp\", \"script\": \"" + server + "\", \"port\": " + std::to_string(port) +
          ", \"health_check\": {\"tcp\": \"127.0.0.1:" + std::to_string(port) + "\", \"interval\": 200}},"
          " {\"name\": \"hung\", \"script\": \"" + bin::kSleeper + "\", \"cwd\": \"" + s.home.scratch("") +
          "\", \"health_check\": {\"exec\": \"./hang.sh\", \"interval\": 200, \"timeout\": 300, \"retries\": 1}}]}");
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  REQUIRE(health_becomes(s, "tcp", "healthy"));
  CHECK(s.app("tcp")["pm2_env"]["health_last_result"] == "ok: connected");

  REQUIRE(wait_until([&] { return s.app("hung")["pm2_env"]["last_exit_reason"] == "health_check"; }, 15s));
  CHECK(mentions(s.app("hung")["pm2_env"]["health_last_result"].get<std::string>(), "timed out after 300 ms"));
  REQUIRE_EXIT(s.pmx({"stop", "hung"}), 0);
  // Every probe's shell and its sleep are gone.
  const auto pids = read_lines(marker);
  REQUIRE_FALSE(pids.empty());
  for (const auto& line : pids) {
    const pid_t shell = std::stoi(line.substr(0, line.find(' ')));
    const pid_t sleeper = std::stoi(line.substr(line.find(' ') + 1));
    INFO(line);
    CHECK(wait_until([&] { return !process_alive(shell) && !process_alive(sleeper); }, 5s));
  }
}

TEST_CASE("in cluster mode each instance is probed through its own port: only the failing one restarts",
          "[integration][health]") {
  REQUIRE(have_node());
  Session s;
  const std::string server = write_health_server(s.home);
  const int port = free_port();
  // Two free ports in a row for the instances' health ports.
  int health_base = free_port();
  for (int tries = 0; tries < 50 && !port_is_free(health_base + 1); ++tries) health_base = free_port();
  REQUIRE(port_is_free(health_base + 1));
  const std::string eco = write_scratch(s.home, "eco.yaml",
                                     "apps:\n"
                                     "  - name: api\n"
                                     "    script: " + server + "\n"
                                     "    instances: 2\n"
                                     "    exec_mode: cluster\n"
                                     "    port: " + std::to_string(port) + "\n"
                                     "    increment_var: HEALTH_PORT\n"
                                     "    env:\n      HEALTH_PORT: " + std::to_string(health_base) + "\n"
                                     "    health_check:\n"
                                     "      http: http://127.0.0.1:{port}/health\n"
                                     "      interval: 200ms\n"
                                     "      retries: 2\n");
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  REQUIRE(wait_until([&] {
    const json list = s.jlist();
    return list.size() == 2 && list[0]["pm2_env"]["health"] == "healthy" && list[1]["pm2_env"]["health"] == "healthy";
  }, 20s));
  int failing_pid = 0;
  for (const auto& e : s.jlist()) {
    if (e["pm2_env"]["NODE_APP_INSTANCE"] == 1) failing_pid = e.value("pid", 0);
  }
  REQUIRE(failing_pid > 0);
  std::ofstream(s.home.scratch("fail-1")) << "x";
  REQUIRE(wait_until([&] {
    for (const auto& e : s.jlist()) {
      if (e["pm2_env"]["NODE_APP_INSTANCE"] == 1 && e["pm2_env"]["last_exit_reason"] == "health_check") return true;
    }
    return false;
  }, 15s));
  for (const auto& e : s.jlist()) {
    INFO(e["pm2_env"].dump());
    if (e["pm2_env"]["NODE_APP_INSTANCE"] == 0) {
      CHECK(e["pm2_env"]["restart_time"] == 0);
      CHECK(e["pm2_env"]["health"] == "healthy");
    } else {
      CHECK(e["pm2_env"]["restart_time"] == 1);
      CHECK(e.value("pid", 0) != failing_pid);
    }
  }
  // As a reload: the replacement started beside the unhealthy run and took over from it once
  // ready, so the instance's share of the port never went unserved. (pmx.log is written in
  // blocks: wait for the lines.)
  std::string log;
  CHECK(wait_until([&] {
    log = read_file(s.home.daemon_log()).value_or("");
    return mentions(log, "unhealthy: its replacement starts beside it") &&
           mentions(log, "takes over from pid " + std::to_string(failing_pid));
  }, 10s));
  INFO(log);
}

TEST_CASE("in cluster mode an instance that stays unhealthy is replaced until max_restarts, then ends errored",
          "[integration][health]") {
  REQUIRE(have_node());
  Session s;
  const std::string server = write_health_server(s.home);
  std::ofstream(s.home.scratch("fail-0")) << "x";  // unhealthy from the start, in every run
  const std::string eco = write_scratch(s.home, "eco.yaml",
                                     "apps:\n"
                                     "  - name: sick\n"
                                     "    script: " + server + "\n"
                                     "    instances: 1\n"
                                     "    exec_mode: cluster\n"
                                     "    port: " + std::to_string(free_port()) + "\n"
                                     "    max_restarts: 3\n"
                                     "    kill_timeout: 1s\n"
                                     "    health_check:\n"
                                     "      http: http://127.0.0.1:{port}/health\n"
                                     "      interval: 200ms\n"
                                     "      retries: 2\n");
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  REQUIRE(wait_until([&] {
    const auto app = s.find_app("sick");
    return app && (*app)["pm2_env"]["status"] == "errored";
  }, 40s));
  const auto app = s.find_app("sick");
  INFO(app->dump());
  CHECK((*app)["pm2_env"]["last_exit_reason"] == "health_check");
  // Two replacements (max_restarts - 1), then the restart in place whose end reaches the limit.
  // (pmx.log is written in blocks: wait for the errored line.)
  std::string log;
  REQUIRE(wait_until([&] {
    log = read_file(s.home.daemon_log()).value_or("");
    return mentions(log, "sick:0 restarting_unhealthy -> errored");
  }, 10s));
  INFO(log);
  std::size_t replacements = 0;
  for (auto at = log.find("its replacement starts beside it"); at != std::string::npos;
       at = log.find("its replacement starts beside it", at + 1)) {
    ++replacements;
  }
  CHECK(replacements == 2);
  CHECK((*app)["pm2_env"]["restart_time"] == 2);
}

TEST_CASE("a wrong health_check in an ecosystem file starts nothing and names file:line", "[integration][health]") {
  Session s;
  const std::string eco = write_scratch(s.home, "eco.yaml",
                                     "apps:\n"
                                     "  - name: web\n"
                                     "    script: " + bin::kSleeper + "\n"
                                     "    health_check:\n"
                                     "      tcp: 127.0.0.1:3000\n"
                                     "      retries: none\n");
  const RunResult r = s.pmx({"start", eco});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(mentions(r.err, "eco.yaml:"));
  CHECK(mentions(r.err, "health_check.retries"));
  CHECK(s.jlist().empty());
}
