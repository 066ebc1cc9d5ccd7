// Tests of config/cron.hpp: cron_restart's expressions and the next time they match.
#include "config/cron.hpp"

#include <catch2/catch.hpp>

#include "time_points.hpp"

#include <cstdlib>
#include <ctime>
#include <string>

namespace pmx::config {
namespace {

using SystemClock = std::chrono::system_clock;
using pmx::test::local;

SystemClock::time_point next_of(const std::string& text, SystemClock::time_point after) {
  auto c = CronSchedule::parse(text);
  INFO(text << ": " << (c ? "" : c.error()));
  REQUIRE(c.ok());
  auto n = c->next(after);
  REQUIRE(n.has_value());
  return *n;
}

TEST_CASE("cron: five and six fields, steps, ranges, lists and names", "[cron]") {
  const auto t = local(2026, 11, 27, 10, 7, 30);  // a Friday
  CHECK(next_of("*/2 * * * * *", t) == local(2026, 11, 27, 10, 7, 32));
  CHECK(next_of("* * * * *", t) == local(2026, 11, 27, 10, 8, 0));
  CHECK(next_of("0 * * * *", t) == local(2026, 11, 27, 11, 0, 0));
  CHECK(next_of("30 2 * * *", t) == local(2026, 11, 28, 2, 30, 0));
  CHECK(next_of("0 9-17/4 * * *", t) == local(2026, 11, 27, 13, 0, 0));
  CHECK(next_of("15,45 * * * *", t) == local(2026, 11, 27, 10, 15, 0));
  CHECK(next_of("0 0 * * mon", t) == local(2026, 11, 30, 0, 0, 0));
  CHECK(next_of("0 0 * * 7", t) == local(2026, 11, 29, 0, 0, 0));  // 7 is Sunday
  CHECK(next_of("0 0 1 jan *", t) == local(2027, 1, 1, 0, 0, 0));
  CHECK(next_of("0 0 29 2 *", t) == local(2028, 2, 29, 0, 0, 0));
  // Both days restricted: either matches (the 1st, or a Monday).
  CHECK(next_of("0 0 1 * mon", t) == local(2026, 11, 30, 0, 0, 0));
  // Strictly after: a matching instant is not its own next.
  CHECK(next_of("30 7 10 * * *", t) == local(2026, 11, 28, 10, 7, 30));
}

TEST_CASE("cron: aliases", "[cron]") {
  const auto t = local(2026, 11, 27, 10, 7, 30);
  CHECK(next_of("@hourly", t) == local(2026, 11, 27, 11, 0, 0));
  CHECK(next_of("@daily", t) == local(2026, 11, 28, 0, 0, 0));
  CHECK(next_of("@midnight", t) == local(2026, 11, 28, 0, 0, 0));
  CHECK(next_of("@weekly", t) == local(2026, 11, 29, 0, 0, 0));
  CHECK(next_of("@monthly", t) == local(2026, 12, 1, 0, 0, 0));
  CHECK(next_of("@yearly", t) == local(2027, 1, 1, 0, 0, 0));
}

TEST_CASE("cron: bad expressions name what is wrong, a date that never comes has no next", "[cron]") {
  for (const char* bad : {"", "* * * *", "* * * * * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                          "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *", "* * * foo *", "@often"}) {
    INFO(bad);
    CHECK_FALSE(CronSchedule::parse(bad).ok());
  }
  auto minutes = CronSchedule::parse("61 * * * *");
  REQUIRE_FALSE(minutes.ok());
  CHECK(minutes.error().find("minutes field '61'") != std::string::npos);
  auto feb31 = CronSchedule::parse("0 0 31 2 *");
  REQUIRE(feb31.ok());
  CHECK_FALSE(feb31->next(SystemClock::now()).has_value());
}

}  // namespace
}  // namespace pmx::config
