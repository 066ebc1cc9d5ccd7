// AppMetrics: the preload's runtime metrics and @pm2/io's axm:monitor read with their types
// checked and bounded, and shown in PM2's axm_monitor shape with PM2's names.
#include <catch2/catch.hpp>

#include <string>

#include "daemon/instance/app_metrics.hpp"

using namespace pmx::daemon;
using json = nlohmann::json;

TEST_CASE("runtime metrics appear in axm_monitor with PM2's names, units, types and value shapes", "[app_metrics]") {
  auto runtime = read_runtime_metrics(json::parse(R"({"cmd":"NODE_PMX","pmx":"metrics","heap_total":7581696,
      "heap_used":5242880,"handles":3,"requests":0,"loop":{"p50":0.45,"p95":1.5,"p99":301.25,"max":312},"errors":2})"));
  REQUIRE(runtime);
  AppMetrics m;
  m.runtime = *runtime;
  const json axm = axm_monitor(m);
  CHECK(axm.at("Heap Size") == json{{"value", "7.23"}, {"unit", "MiB"}, {"type", "internal/v8/heap/total"}, {"historic", true}});
  CHECK(axm.at("Used Heap Size").at("value") == "5.00");
  CHECK(axm.at("Heap Usage").at("value") == 69.15);
  CHECK(axm.at("Heap Usage").at("unit") == "%");
  CHECK(axm.at("Active handles").at("value") == 3);
  CHECK(axm.at("Active requests").at("value") == 0);
  CHECK_FALSE(axm.at("Active handles").contains("unit"));
  CHECK(axm.at("Event Loop Latency").at("value") == "0.45");
  CHECK(axm.at("Event Loop Latency p95").at("value") == "1.50");
  CHECK(axm.at("Event Loop Latency p99") ==
        json{{"value", "301.25"}, {"unit", "ms"}, {"type", "internal/libuv/latency/p99"}, {"historic", true}});
  CHECK(axm.at("Event Loop Latency max").at("value") == "312.00");
  CHECK(runtime->errors == 2);
}

TEST_CASE("a report without a loop sample leaves the latencies out", "[app_metrics]") {
  auto runtime = read_runtime_metrics(json{{"heap_total", 10}, {"heap_used", 5}});
  REQUIRE(runtime);
  AppMetrics m;
  m.runtime = *runtime;
  const json axm = axm_monitor(m);
  CHECK(axm.contains("Heap Size"));
  CHECK_FALSE(axm.contains("Event Loop Latency"));
  CHECK_FALSE(axm.contains("Active handles"));
  CHECK(axm_monitor(AppMetrics{}) == json::object());
}

TEST_CASE("runtime metrics of the wrong type or out of range are refused, never an exception", "[app_metrics]") {
  for (const char* text : {R"([1])", R"({"heap_total":"7"})", R"({"heap_total":-1})", R"({"handles":{}})",
                           R"({"loop":[1]})", R"({"loop":{"p99":"x"}})", R"({"errors":-3})", R"({"loop":{"max":-0.5}})"}) {
    INFO(text);
    CHECK_FALSE(read_runtime_metrics(json::parse(text)));
  }
  CHECK_FALSE(read_runtime_metrics(json(1e308 * 10)));
  CHECK(read_runtime_metrics(json{{"heap_total", nullptr}, {"loop", nullptr}}));
}

TEST_CASE("axm:monitor's metrics keep their names, units and types, and the runtime's names win", "[app_metrics]") {
  std::uint64_t dropped = 0;
  auto custom = read_axm_monitor(json::parse(R"({
      "Realtime users": {"value": 12, "unit": "users", "type": "metric/users", "historic": true},
      "req/sec": {"value": "3.5", "type": "meter"},
      "ready": {"value": true},
      "Heap Size": {"value": "1.00", "unit": "MiB"}})"), dropped);
  REQUIRE(custom);
  CHECK(dropped == 0);
  AppMetrics m;
  m.custom = *custom;
  json axm = axm_monitor(m);
  CHECK(axm.at("Realtime users") == json{{"value", 12}, {"unit", "users"}, {"type", "metric/users"}, {"historic", true}});
  CHECK(axm.at("req/sec") == json{{"value", "3.5"}, {"type", "meter"}, {"historic", false}});
  CHECK(axm.at("ready").at("value") == true);
  CHECK(axm.at("Heap Size").at("value") == "1.00");
  m.runtime = RuntimeMetrics{};
  m.runtime->heap_total_bytes = 2.0 * 1024 * 1024;
  axm = axm_monitor(m);
  CHECK(axm.at("Heap Size").at("value") == "2.00");
  CHECK(axm.at("Heap Size").at("type") == "internal/v8/heap/total");
}

TEST_CASE("axm:monitor is bounded: bad entries and those over the cap are dropped and counted", "[app_metrics]") {
  json data = json::object();
  for (int i = 0; i < 100; ++i) data["m" + std::to_string(1000 + i)] = {{"value", i}};
  data[std::string(kMaxMetricName + 1, 'n')] = {{"value", 1}};
  data["object value"] = {{"value", {{"a", 1}}}};
  data["long text"] = {{"value", std::string(kMaxMetricText + 1, 'x')}};
  data["not an object"] = 5;
  data["no value"] = {{"unit", "ms"}};
  std::uint64_t dropped = 0;
  auto custom = read_axm_monitor(data, dropped);
  REQUIRE(custom);
  CHECK(custom->size() == kMaxCustomMetrics);
  CHECK(dropped == 100 - kMaxCustomMetrics + 5);
  CHECK_FALSE(read_axm_monitor(json::array(), dropped));
  CHECK_FALSE(read_axm_monitor(json(), dropped));
}

TEST_CASE("a metric's numeric value: numbers and strings holding only a number", "[app_metrics]") {
  CHECK(numeric_value(json(3)) == 3.0);
  CHECK(numeric_value(json("7.23")) == 7.23);
  CHECK(numeric_value(json("-1e3")) == -1000.0);
  CHECK_FALSE(numeric_value(json("7.23 MiB")));
  CHECK_FALSE(numeric_value(json("")));
  CHECK_FALSE(numeric_value(json(" 1")));
  CHECK_FALSE(numeric_value(json("nan")));
  CHECK_FALSE(numeric_value(json("inf")));
  CHECK_FALSE(numeric_value(json(true)));
  CHECK_FALSE(numeric_value(json()));
}
