// ResourceSample: CPU % between two readings, whatever the number of observers.
#include <catch2/catch.hpp>

#include "daemon/process/sampler.hpp"

using namespace pmx::daemon;

TEST_CASE("first reading: memory at once, CPU 0 until there is an interval", "[sampler]") {
  ResourceSample s;
  s.update(Usage{4096, 500, 1}, TimePoint{} + std::chrono::seconds(10), 100);
  CHECK(s.rss_bytes == 4096);
  CHECK(s.cpu_percent == 0);
}

TEST_CASE("CPU % is the ticks used over the time between readings", "[sampler]") {
  ResourceSample s;
  const TimePoint t0 = TimePoint{} + std::chrono::seconds(10);
  s.update(Usage{0, 1000, 1}, t0, 100);
  s.update(Usage{0, 1050, 1}, t0 + std::chrono::seconds(1), 100);  // 0.5 s of CPU in 1 s
  CHECK(s.cpu_percent == Approx(50.0));
  s.update(Usage{0, 1250, 2}, t0 + std::chrono::seconds(2), 100);  // two busy processes
  CHECK(s.cpu_percent == Approx(200.0));
}

TEST_CASE("a total that drops (a member exited) reads 0 and starts again from it", "[sampler]") {
  ResourceSample s;
  const TimePoint t0 = TimePoint{} + std::chrono::seconds(10);
  s.update(Usage{0, 1000, 2}, t0, 100);
  s.update(Usage{0, 400, 1}, t0 + std::chrono::seconds(1), 100);
  CHECK(s.cpu_percent == 0);
  s.update(Usage{0, 410, 1}, t0 + std::chrono::seconds(2), 100);
  CHECK(s.cpu_percent == Approx(10.0));
}
