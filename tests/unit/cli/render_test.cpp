// Tests of cli/render.hpp: the list table's columns, colours and narrow-terminal fallback.
#include "cli/render.hpp"

#include <catch2/catch.hpp>

namespace pmx::cli {
namespace {

using json = nlohmann::json;

json app(int id, const std::string& name, const std::string& status) {
  return json{{"pid", status == "online" ? 4242 : 0},
              {"name", name},
              {"pm_id", id},
              {"monit", {{"memory", 5 * 1024 * 1024}, {"cpu", 1.5}}},
              {"pm2_env",
               {{"status", status},
                {"namespace", "default"},
                {"exec_mode", "fork_mode"},
                {"restart_time", 3},
                {"uptime_ms", 65000},
                {"username", "root"}}}};
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("render_list: every column on a wide terminal, with boxes and colours", "[render]") {
  Style style{true, 200, true};
  std::string out = render_list(json::array({app(0, "api", "online"), app(1, "worker", "errored")}), style);
  for (const char* title : {"id", "name", "namespace", "mode", "pid", "uptime", "↺", "status", "cpu", "mem", "user"}) {
    CHECK(has(out, title));
  }
  CHECK(has(out, "┌"));
  CHECK(has(out, "\x1b[32monline"));   // online in green
  CHECK(has(out, "\x1b[31merrored"));  // errored in red
  CHECK(has(out, "1m"));               // uptime of 65 s
  CHECK(has(out, "5.0mb"));
  CHECK(has(out, "4242"));
}

TEST_CASE("render_list: plain when piped: no boxes, no escape codes", "[render]") {
  Style style{false, 0, false};
  std::string out = render_list(json::array({app(0, "api", "online")}), style);
  CHECK_FALSE(has(out, "\x1b["));
  CHECK_FALSE(has(out, "│"));
  CHECK(has(out, "api"));
  CHECK(has(out, "online"));
}

TEST_CASE("render_list: a narrow terminal drops columns but keeps id, name and status", "[render]") {
  Style wide{false, 200, true};
  Style narrow{false, 40, true};
  json apps = json::array({app(0, "api", "online")});
  std::string full = render_list(apps, wide);
  std::string small = render_list(apps, narrow);
  CHECK(has(full, "user"));
  CHECK_FALSE(has(small, "user"));
  CHECK_FALSE(has(small, "namespace"));
  CHECK(has(small, "api"));
  CHECK(has(small, "online"));
  CHECK(has(small, "id"));
  // Every line of the narrow table fits (or comes as close as the kept columns allow).
  CHECK(small.size() < full.size());
}

TEST_CASE("render_describe: status, paths and the last exit", "[render]") {
  json a = app(2, "api", "stopped");
  a["pm2_env"]["pm_exec_path"] = "/srv/api";
  a["pm2_env"]["exit_code"] = 3;
  std::string out = render_describe(a, Style{false, 0, false});
  CHECK(has(out, "Describing api (id 2)"));
  CHECK(has(out, "/srv/api"));
  CHECK(has(out, "stopped"));
  CHECK(has(out, "last exit code"));
}

TEST_CASE("render_describe: created at is a date, not milliseconds", "[render][regression]") {
  json a = app(0, "api", "online");
  a["pm2_env"]["created_at"] = 1796627360397LL;
  const std::string out = render_describe(a, Style{false, 0, false});
  CHECK(has(out, "2026-12-0"));  // the 7th in UTC: the 6th or the 7th in any zone
  CHECK_FALSE(has(out, "1796627360397"));
}

}  // namespace
}  // namespace pmx::cli
