// describe's "Code metrics": one row per axm_monitor entry, with its unit.
#include <catch2/catch.hpp>

#include "cli/render_metrics.hpp"

using namespace pmx::cli;
using json = nlohmann::json;

TEST_CASE("describe shows axm_monitor as Code metrics, values with their units", "[render][metrics]") {
  const json env = {{"axm_monitor",
                     {{"Heap Size", {{"value", "7.23"}, {"unit", "MiB"}}},
                      {"Heap Usage", {{"value", 69.1}, {"unit", "%"}}},
                      {"Active handles", {{"value", 3}}}}}};
  const std::string out = render_code_metrics(env, Style{false, 0, false});
  CHECK(out ==
        "Code metrics\n"
        "Active handles  3\n"
        "Heap Size       7.23 MiB\n"
        "Heap Usage      69.1%\n");
}

TEST_CASE("describe shows no Code metrics for an app that reports none", "[render][metrics]") {
  CHECK(render_code_metrics(json::object(), Style{}).empty());
  CHECK(render_code_metrics({{"axm_monitor", json::object()}}, Style{}).empty());
  CHECK(render_code_metrics({{"axm_monitor", "junk"}}, Style{}).empty());
  // A metric of an odd shape is shown as it is, never an exception.
  CHECK(render_code_metrics({{"axm_monitor", {{"x", 5}}}}, Style{false, 0, false}) == "Code metrics\nx  \n");
}
