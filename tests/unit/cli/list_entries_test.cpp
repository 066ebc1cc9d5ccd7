// Tests of cli/list_entries.hpp: the list table and start's warnings read the same from entries
// parsed without each instance's environment as from whole ones.
#include "cli/list_entries.hpp"

#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>

#include "cli/daemon_connection.hpp"
#include "cli/render.hpp"

namespace pmx::cli {
namespace {

using json = nlohmann::json;

/// A jlist entry as pmxd describes one: PM2's fields, the environment in pm2_env.env and its
/// keys again at the top of pm2_env.
json full_entry(int id, const std::string& status, const json& extra) {
  json env = {{"PATH", "/usr/bin"}, {"HOME", "/root"}, {"NODE_ENV", "production"}, {"pm_id", std::to_string(id)}};
  json pm2_env = {{"status", status},         {"namespace", "web"},        {"exec_mode", "cluster_mode"},
                  {"restart_time", 7},        {"unstable_restarts", 1},    {"uptime_ms", 3'700'000},
                  {"username", "www-data"},   {"unique_id", "c0ffee"},     {"created_at", 1700000000000},
                  {"pm_uptime", 1700000001000}, {"cgroup", "/sys/fs/cgroup/pmx/1"}, {"env", env},
                  {"pm_exec_path", "/srv/app.js"}, {"args", json::array({"--port", "3000"})},
                  {"axm_monitor", {{"Heap", {{"value", 12}}}}}};
  for (const auto& [k, v] : env.items()) pm2_env[k] = v;
  for (const auto& [k, v] : extra.items()) pm2_env[k] = v;
  return json{{"pid", status == "online" ? 4242 : 0},
              {"name", "api"},
              {"pm_id", id},
              {"monit", {{"memory", 50 * 1024 * 1024}, {"cpu", 12.5}}},
              {"pm2_env", pm2_env}};
}

json entries() {
  return json::array({full_entry(0, "online", {{"health", "healthy"}, {"health_last_result", "ok"}, {"health_last_at", 5}}),
                      full_entry(1, "errored", {{"exec_error", "cannot run /srv/app.js: No such file"}, {"exit_code", 127}}),
                      full_entry(2, "stopped", {{"exit_signal", "SIGKILL"}, {"last_exit_reason", "oom"}, {"last_exit_at", 9}}),
                      full_entry(3, "launching", {{"status_reason", "waiting for db (errored)"}}),
                      full_entry(4, "online", {{"log_error", "/var/log/x.log"}, {"ready_warning", "did not listen"},
                                                {"notify_status", "serving"}})});
}

/// report_errored's exit code and what it printed.
std::pair<int, std::string> report(const json& started) {
  std::ostringstream captured;
  auto* old = std::cerr.rdbuf(captured.rdbuf());
  const int code = report_errored(started);
  std::cerr.rdbuf(old);
  return {code, captured.str()};
}

}  // namespace

TEST_CASE("parse_list_entries drops each instance's environment and keeps what the tables read", "[render]") {
  const json filtered = parse_list_entries(entries().dump());
  REQUIRE(filtered.is_array());
  REQUIRE(filtered.size() == 5);
  const json& env = filtered[0]["pm2_env"];
  CHECK_FALSE(env.contains("env"));
  CHECK_FALSE(env.contains("PATH"));
  CHECK_FALSE(env.contains("pm_exec_path"));
  CHECK(env["status"] == "online");
  CHECK(env["health"] == "healthy");
  CHECK(filtered[0]["monit"]["memory"] == 50 * 1024 * 1024);
  CHECK(filtered[0]["pid"] == 4242);
  CHECK(parse_list_entries("[{\"pm2_env\": ").is_discarded());
}

TEST_CASE("the list table is the same from filtered entries as from whole ones", "[render]") {
  const json whole = entries();
  const json filtered = parse_list_entries(whole.dump());
  for (const Style& style : {Style{true, 200, true}, Style{false, 0, false}, Style{false, 60, true}}) {
    CHECK(render_list(filtered, style) == render_list(whole, style));
  }
}

TEST_CASE("start's warnings and exit code are the same from filtered entries as from whole ones", "[render]") {
  const json whole = entries();
  const json filtered = parse_list_entries(whole.dump());
  const auto from_whole = report(whole);
  const auto from_filtered = report(filtered);
  CHECK(from_filtered.first == from_whole.first);
  CHECK(from_filtered.second == from_whole.second);
  CHECK(from_whole.second.find("cannot run /srv/app.js") != std::string::npos);
  CHECK(from_whole.second.find("waiting for db") != std::string::npos);
  CHECK(from_whole.second.find("/var/log/x.log") != std::string::npos);
}

}  // namespace pmx::cli
