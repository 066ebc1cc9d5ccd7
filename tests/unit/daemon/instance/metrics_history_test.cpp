// MetricsHistory: one point per step, a fixed capacity (the oldest points go first), at least
// ten minutes at the default step, and the points newer than a time.
#include <catch2/catch.hpp>

#include "daemon/instance/metrics_history.hpp"

using namespace pmx::daemon;

TEST_CASE("the history keeps one point per step and drops readings closer than that", "[metrics_history]") {
  MetricsHistory h;
  h.add(1000, 1.5, 10 * 1024, 2.5);
  h.add(1001, 99, 1, std::nullopt);  // 1 s later: the sampler read it again (memory limit)
  h.add(1004, 99, 1, std::nullopt);
  h.add(1005, 3.0, 20 * 1024, std::nullopt);
  const auto points = h.since(0);
  REQUIRE(points.size() == 2);
  CHECK(points[0].time_s == 1000);
  CHECK(points[0].cpu_percent == 1.5f);
  CHECK(points[0].rss_kib == 10);
  CHECK(points[0].loop_p99_ms == 2.5f);
  CHECK(points[1].time_s == 1005);
  CHECK(points[1].loop_p99_ms < 0);
}

TEST_CASE("the history covers at least ten minutes and then drops its oldest points", "[metrics_history]") {
  CHECK(MetricsHistory::kCapacity * MetricsHistory::kMinStepSeconds >= 600);
  MetricsHistory h;
  const std::uint32_t start = 1'700'000'000;
  for (std::uint32_t i = 0; i < 300; ++i) h.add(start + i * 5, i, i * 1024, i);
  CHECK(h.size() == MetricsHistory::kCapacity);
  const auto points = h.since(0);
  REQUIRE(points.size() == MetricsHistory::kCapacity);
  CHECK(points.front().time_s == start + (300 - MetricsHistory::kCapacity) * 5);
  CHECK(points.back().time_s == start + 299 * 5);
  for (std::size_t i = 1; i < points.size(); ++i) CHECK(points[i].time_s == points[i - 1].time_s + 5);
  // Only the new ones, for a dashboard that has the rest.
  const auto newer = h.since(start + 297 * 5);
  REQUIRE(newer.size() == 2);
  CHECK(newer[0].time_s == start + 298 * 5);
}

TEST_CASE("a step below the minimum is the minimum, a longer one spaces the points further", "[metrics_history]") {
  CHECK(MetricsHistory(1).step() == MetricsHistory::kMinStepSeconds);
  MetricsHistory h(10);
  h.add(100, 0, 0, std::nullopt);
  h.add(105, 0, 0, std::nullopt);
  h.add(110, 0, 0, std::nullopt);
  CHECK(h.size() == 2);
}

TEST_CASE("a wall clock that goes back starts the history again", "[metrics_history]") {
  MetricsHistory h;
  h.add(1000, 0, 0, std::nullopt);
  h.add(1005, 0, 0, std::nullopt);
  h.add(900, 0, 0, std::nullopt);
  const auto points = h.since(0);
  REQUIRE(points.size() == 1);
  CHECK(points[0].time_s == 900);
}

TEST_CASE("memory saturates instead of wrapping, and an empty history holds no memory", "[metrics_history]") {
  CHECK(sizeof(HistoryPoint) == 16);
  MetricsHistory h;
  CHECK(h.since(0).empty());
  h.add(5, 0, ~std::uint64_t{0}, std::nullopt);
  CHECK(h.since(0).at(0).rss_kib == 0xFFFFFFFFu);
  h.clear();
  CHECK(h.size() == 0);
}
