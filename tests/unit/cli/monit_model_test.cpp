// Tests of cli/monit_model.hpp: rows read from a `list` reply (malformed entries included),
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

TEST_CASE("rows_of_text reads the same rows as rows_of, leaving the environment out", "[monit]") {
  json e = model_entry(0, "api");
  e["env"] = {{"PATH", "/bin"}, {"status", "not this"}};
  e["pm2_env"]["env"] = {{"HOME", "/root"}};
  e["pm2_env"]["axm_monitor"] = {{"Heap Size", {{"value", "7.23"}, {"unit", "MiB"}}}};
  const json list = json::array({e, model_entry(1, "worker")});
  auto from_text = rows_of_text(list.dump());
  auto from_json = rows_of(list);
  REQUIRE(from_text);
  REQUIRE(from_json);
  REQUIRE(from_text->size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const AppRow& a = (*from_text)[i];
    const AppRow& b = (*from_json)[i];
    CHECK(a.id == b.id);
    CHECK(a.name == b.name);
    CHECK(a.status == b.status);
    CHECK(a.memory == b.memory);
    CHECK(a.cpu == b.cpu);
    CHECK(a.restarts == b.restarts);
    CHECK(a.last_exit == b.last_exit);
    CHECK(a.cgroup == b.cgroup);
    CHECK(a.metrics.size() == b.metrics.size());
  }
  CHECK(from_text->front().metrics.front().value == "7.23 MiB");
  CHECK_FALSE(rows_of_text("[{\"pid\": "));
  CHECK_FALSE(rows_of_text("{}"));
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
