// Tests of config/cpu_quota.hpp: systemd's CPUQuota percentages read and written.
#include "config/cpu_quota.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace pmx::config {

TEST_CASE("cpu_quota reads whole percentages of one CPU, above 100% too", "[cpu_quota]") {
  CHECK(*parse_cpu_quota("50%") == 50);
  CHECK(*parse_cpu_quota("150%") == 150);
  CHECK(*parse_cpu_quota("1%") == 1);
  CHECK(*parse_cpu_quota(" 200% ") == 200);
  CHECK(*parse_cpu_quota("100000%") == 100000);
}

TEST_CASE("cpu_quota refuses a bare number, a fraction, zero and nonsense, saying how to write it", "[cpu_quota]") {
  for (const char* bad : {"0.5", "50", "", "%", "0%", "12.5%", "-5%", "100001%", "fifty%", "50 %", "99999999999%"}) {
    INFO("cpu_quota " << bad);
    auto r = parse_cpu_quota(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("like 50% or 150% (100% = one CPU)") != std::string::npos);
  }
}

TEST_CASE("cpu_quota is written back as it is read", "[cpu_quota]") {
  CHECK(format_cpu_quota(50) == "50%");
  CHECK(format_cpu_quota(250) == "250%");
  CHECK(format_cpu_quota(0) == "");
  CHECK(*parse_cpu_quota(format_cpu_quota(75)) == 75);
}

}  // namespace pmx::config
