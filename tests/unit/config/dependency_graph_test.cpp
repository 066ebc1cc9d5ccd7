// Tests of config/dependency_graph.hpp: cycles named, unknown names, start order, stop waves.
#include "config/dependency_graph.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace pmx::config {
namespace {

using Names = std::vector<std::string>;

TEST_CASE("a graph without depends_on has no cycle and keeps its order", "[dependency_graph]") {
  const DependencyGraph g = {{"a", {}}, {"b", {}}, {"c", {}}};
  CHECK_FALSE(find_cycle(g));
  CHECK(start_order(g) == Names{"a", "b", "c"});
  CHECK(stop_waves(g) == std::vector<Names>{{"a", "b", "c"}});
}

TEST_CASE("start order puts each app after the apps it depends on", "[dependency_graph]") {
  const DependencyGraph g = {{"web", {"db", "queue"}}, {"worker", {"queue"}}, {"queue", {"db"}}, {"db", {}}};
  const auto order = start_order(g);
  REQUIRE(order);
  CHECK(*order == Names{"db", "queue", "web", "worker"});
}

TEST_CASE("a cycle is named along its edges", "[dependency_graph]") {
  const DependencyGraph g = {{"a", {"b"}}, {"b", {"a"}}};
  const auto cycle = find_cycle(g);
  REQUIRE(cycle);
  CHECK(cycle_text(*cycle) == "a -> b -> a");
  CHECK_FALSE(start_order(g));
}

TEST_CASE("a longer cycle behind an app that is not on it is named from where it closes", "[dependency_graph]") {
  const DependencyGraph g = {{"web", {"api"}}, {"api", {"cache"}}, {"cache", {"db"}}, {"db", {"api"}}};
  const auto cycle = find_cycle(g);
  REQUIRE(cycle);
  CHECK(cycle_text(*cycle) == "api -> cache -> db -> api");
}

TEST_CASE("an app that depends on itself is a cycle of one", "[dependency_graph]") {
  const auto cycle = find_cycle({{"a", {"a"}}});
  REQUIRE(cycle);
  CHECK(cycle_text(*cycle) == "a -> a");
}

TEST_CASE("a diamond is no cycle", "[dependency_graph]") {
  const DependencyGraph g = {{"web", {"a", "b"}}, {"a", {"db"}}, {"b", {"db"}}, {"db", {}}};
  CHECK_FALSE(find_cycle(g));
  CHECK(start_order(g) == Names{"db", "a", "b", "web"});
}

TEST_CASE("unknown names are those neither in the graph nor known to pmxd", "[dependency_graph]") {
  const DependencyGraph g = {{"web", {"db", "cache", "redis"}}, {"db", {}}};
  const auto unknown = unknown_dependencies(g, {"redis"});
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].app == "web");
  CHECK(unknown[0].name == "cache");
  CHECK(unknown_dependencies(g, {"redis", "cache"}).empty());
}

TEST_CASE("names outside the graph do not change the start order", "[dependency_graph]") {
  CHECK(start_order({{"web", {"db"}}, {"worker", {}}}) == Names{"web", "worker"});
}

TEST_CASE("stop waves stop dependents before their dependencies", "[dependency_graph]") {
  const DependencyGraph g = {{"db", {}}, {"queue", {"db"}}, {"web", {"db", "queue"}}, {"cron", {}}};
  CHECK(stop_waves(g) == std::vector<Names>{{"web", "cron"}, {"queue"}, {"db"}});
}

TEST_CASE("stop waves of a cycle end together instead of waiting forever", "[dependency_graph]") {
  const DependencyGraph g = {{"web", {"a"}}, {"a", {"b"}}, {"b", {"a"}}};
  CHECK(stop_waves(g) == std::vector<Names>{{"web"}, {"a", "b"}});
}

TEST_CASE("with_dependencies adds what the wanted apps need, transitively, in the graph's order", "[dependency_graph]") {
  const DependencyGraph g = {{"db", {}}, {"queue", {"db"}}, {"web", {"queue"}}, {"other", {}}};
  CHECK(with_dependencies(g, {"web"}) == Names{"db", "queue", "web"});
  CHECK(with_dependencies(g, {"other"}) == Names{"other"});
}

TEST_CASE("a chain of 200,000 apps is walked without recursion: its cycle found, its start and stop orders given",
          "[dependency_graph][regression]") {
  // A start request may chain as many apps as fit in 1 MiB; pmxd's stack must not pay for it.
  DependencyGraph chain;
  const int n = 200000;
  for (int i = 0; i < n; ++i) chain.push_back({"a" + std::to_string(i), {"a" + std::to_string(i + 1)}});
  chain.back().depends_on.clear();
  const auto order = start_order(chain);
  REQUIRE(order);
  CHECK(order->front() == "a" + std::to_string(n - 1));
  CHECK(order->back() == "a0");
  const auto waves = stop_waves(chain);
  REQUIRE(waves.size() == static_cast<std::size_t>(n));
  CHECK(waves.front() == Names{"a0"});
  chain.back().depends_on = {"a0"};
  const auto cycle = find_cycle(chain);
  REQUIRE(cycle);
  CHECK(cycle->size() == static_cast<std::size_t>(n) + 1);
}

}  // namespace
}  // namespace pmx::config
