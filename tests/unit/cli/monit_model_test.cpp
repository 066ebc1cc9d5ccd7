// Tests of cli/monit_model.hpp: rows read from a `list` or `metrics` reply (malformed entries included),
// the bounded history behind the sparklines, the log tail and the filter.
#include "cli/monit_model.hpp"

#include <catch2/catch.hpp>

namespace pmx::cli::monit {
namespace {

using json = nlohmann::json;

json model_entry(int id, const std::string& name) {
  return json{{"pid", 4242},
              {"name", name},
              {"pm_id", id},
              {"monit", {{"memory", 5 * 1024 * 1024}, {"cpu", 1.5}}},
              {"pm2_env",
               {{"status", "online"},
                {"namespace", "web"},
                {"exec_mode", "cluster_mode"},
                {"restart_time", 3},
                {"uptime_ms", 65000},
                {"exit_code", 1},
                {"cgroup", "/sys/fs/cgroup/pmx/0-abc"}}}};
}

TEST_CASE("rows_of reads what monit shows of each instance, in id order", "[monit]") {
  auto rows = rows_of(json::array({model_entry(2, "worker"), model_entry(0, "api")}));
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  const AppRow& r = rows->front();
  CHECK(r.id == 0);
  CHECK(r.name == "api");
  CHECK(r.ns == "web");
  CHECK(r.mode == "cluster");
  CHECK(r.status == "online");
  CHECK(r.pid == 4242);
  CHECK(r.restarts == 3);
  CHECK(r.uptime_ms == 65000);
  CHECK(r.cpu == 1.5);
  CHECK(r.memory == 5u * 1024 * 1024);
  CHECK(r.last_exit == "code 1");
  CHECK(r.cgroup == "/sys/fs/cgroup/pmx/0-abc");
  CHECK(r.metrics.empty());
}

TEST_CASE("rows_of shows axm_monitor's entries as value and unit", "[monit]") {
  json e = model_entry(0, "api");
  e["pm2_env"]["axm_monitor"] = {{"Heap Size", {{"value", "7.23"}, {"unit", "MiB"}}},
                                 {"Active handles", {{"value", 4}}},
                                 {"Event Loop Latency p99", {{"value", 1.23456}, {"unit", "ms"}}}};
  auto rows = rows_of(json::array({e}));
  REQUIRE(rows);
  const auto& m = rows->front().metrics;
  REQUIRE(m.size() == 3);
  CHECK(m[0].name == "Active handles");
  CHECK(m[0].value == "4");
  CHECK(m[1].name == "Event Loop Latency p99");
  CHECK(m[1].value == "1.23 ms");
  CHECK(m[2].name == "Heap Size");
  CHECK(m[2].value == "7.23 MiB");
}

TEST_CASE("rows_of reads fields of the wrong type as their defaults, never throws", "[monit]") {
  json e = {{"pm_id", "zero"}, {"name", 12}, {"pid", nullptr}, {"monit", "x"},
            {"pm2_env", {{"status", 3}, {"restart_time", 1e300}, {"axm_monitor", {{"m", {{"value", json::array()}}}}}}}};
  auto rows = rows_of(json::array({e, 7, "x"}));
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().id == -1);
  CHECK(rows->front().name == "?");
  CHECK(rows->front().status == "?");
  CHECK(rows->front().restarts == 0);
  CHECK(rows->front().metrics.size() == 1);
  CHECK_FALSE(rows_of(json::object()));
}

TEST_CASE("rows_of reads a metrics reply's entries as a list reply's, with their history points", "[monit]") {
  // A `metrics` entry: pm2_env's fields at the top level, and history columns.
  json e = model_entry(0, "api");
  for (auto& [key, value] : e["pm2_env"].items()) e[key] = value;
  e.erase("pm2_env");
  e["axm_monitor"] = {{"Heap Size", {{"value", "7.23"}, {"unit", "MiB"}}}};
  e["history"] = {{"time", {100, 105, 110}}, {"cpu", {0.5, 1.0, 2.5}}, {"memory", {1024, 2048, 4096}},
                  {"loop_p99_ms", {nullptr, 1.5, nullptr}}};
  auto from_metrics = rows_of(json::array({e}));
  auto from_list = rows_of(json::array({model_entry(0, "api")}));
  REQUIRE(from_metrics);
  REQUIRE(from_list);
  const AppRow& a = from_metrics->front();
  const AppRow& b = from_list->front();
  CHECK(a.name == b.name);
  CHECK(a.ns == "web");
  CHECK(a.mode == "cluster");
  CHECK(a.status == b.status);
  CHECK(a.restarts == 3);
  CHECK(a.uptime_ms == 65000);
  CHECK(a.last_exit == "code 1");
  CHECK(a.cgroup == b.cgroup);
  CHECK(a.memory == b.memory);
  CHECK(a.metrics.front().value == "7.23 MiB");
  REQUIRE(a.points.size() == 3);
  CHECK(a.points[1].time == 105);
  CHECK(a.points[2].cpu == 2.5);
  CHECK(a.points[2].memory == 4096);
  CHECK(b.points.empty());

  // Columns of unequal length, or of the wrong type, are no points; the row still reads.
  e["history"]["cpu"] = {0.5};
  auto uneven = rows_of(json::array({e}));
  REQUIRE(uneven);
  CHECK(uneven->front().points.empty());
  CHECK(uneven->front().name == "api");
  e["history"]["cpu"] = {0.5, "x", 1};
  CHECK(rows_of(json::array({e}))->front().points.empty());
}

TEST_CASE("History takes pmxd's points once each, so a reopened monit is full at once", "[monit]") {
  History h(4);
  CHECK(h.since() == 0);
  AppRow a;
  a.id = 0;
  a.points = {{100, 1, 10}, {105, 2, 20}, {110, 3, 30}};
  AppRow b;
  b.id = 1;
  b.points = {{108, 9, 90}};
  h.record({a, b});
  CHECK(h.of(0).size() == 3);
  CHECK(h.since() == 108);  // the oldest of the newest points: nothing newer is missed
  // The next reply repeats what is not newer than since for instance 0: not taken twice.
  a.points = {{110, 3, 30}, {115, 4, 40}, {120, 5, 50}};
  b.points = {};
  b.cpu = 7;
  h.record({a, b});
  auto samples = h.of(0);
  REQUIRE(samples.size() == 4);  // 5 points, capacity 4
  CHECK(samples.front().cpu == 2);
  CHECK(samples.back().cpu == 5);
  CHECK(samples.back().memory == 50);
  // A row without points (a list reply) adds its reading.
  REQUIRE(h.of(1).size() == 2);
  CHECK(h.of(1).back().cpu == 7);
}

TEST_CASE("History keeps at most its capacity per instance and forgets instances no longer listed", "[monit]") {
  History h(3);
  AppRow a;
  a.id = 0;
  AppRow b;
  b.id = 1;
  for (int i = 0; i < 5; ++i) {
    a.cpu = i;
    h.record({a, b});
  }
  auto samples = h.of(0);
  REQUIRE(samples.size() == 3);
  CHECK(samples.front().cpu == 2);
  CHECK(samples.back().cpu == 4);
  CHECK(h.instances() == 2);
  h.record({a});
  CHECK(h.instances() == 1);
  CHECK(h.of(1).empty());
}

TEST_CASE("LogTail keeps the last lines", "[monit]") {
  LogTail t(2);
  t.add("one", false);
  t.add("two", true);
  t.add("three", false);
  REQUIRE(t.lines().size() == 2);
  CHECK(t.lines().front().text == "two");
  CHECK(t.lines().front().err);
}

TEST_CASE("the filter matches a part of the name or namespace, case-insensitively", "[monit]") {
  AppRow r;
  r.name = "Api-Server";
  r.ns = "backend";
  CHECK(matches(r, ""));
  CHECK(matches(r, "api"));
  CHECK(matches(r, "SERV"));
  CHECK(matches(r, "back"));
  CHECK_FALSE(matches(r, "worker"));
}

}  // namespace
}  // namespace pmx::cli::monit
