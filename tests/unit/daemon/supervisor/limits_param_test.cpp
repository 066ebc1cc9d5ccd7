// Limits param: params.limits of restart and reload, read as an ecosystem file's options are,
// with a clear error for anything a client may send.
#include "daemon/supervisor/limits_param.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using namespace pmx::daemon;
using json = nlohmann::json;

TEST_CASE("params.limits gives each app by name its limits, an option left out being none", "[limits_param]") {
  auto r = limits_param(json{{"limits", {{"api", {{"cpu_quota", "50%"}, {"memory_max", "64M"}, {"tasks_max", 16}}},
                                         {"worker", json::object()}}}});
  REQUIRE(r.ok());
  CHECK(r->at("api") == Limits{50, 64u << 20, 16});
  CHECK(r->at("worker") == Limits{});
  CHECK(limits_param(json::object())->empty());
  CHECK(limits_param(json{{"limits", nullptr}})->empty());
}

TEST_CASE("a bad params.limits is refused, naming the app and the option", "[limits_param]") {
  for (const json& bad : {json{{"limits", 3}}, json{{"limits", json::array()}}, json{{"limits", {{"api", "50%"}}}},
                          json{{"limits", {{"api", {{"cpu_quota", 0.5}}}}}},
                          json{{"limits", {{"api", {{"memory_max", "lots"}}}}}},
                          json{{"limits", {{"api", {{"tasks_max", -1}}}}}},
                          json{{"limits", {{"api", {{"tasks_max", json::array({1})}}}}}}}) {
    INFO(bad.dump());
    auto r = limits_param(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(r.error().empty());
  }
  auto quota = limits_param(json{{"limits", {{"api", {{"cpu_quota", "50"}}}}}});
  REQUIRE_FALSE(quota.ok());
  CHECK(quota.error().find("app 'api'") != std::string::npos);
  CHECK(quota.error().find("cpu_quota") != std::string::npos);
}

TEST_CASE("set_limits writes the three options of a spec", "[limits_param]") {
  pmx::config::AppSpec spec;
  set_limits(spec, Limits{150, 1u << 30, 64});
  CHECK(limits_of(spec) == Limits{150, 1u << 30, 64});
  set_limits(spec, Limits{});
  CHECK_FALSE(limits_of(spec).any());
}
