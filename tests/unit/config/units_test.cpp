// Tests of config/units.hpp: size and duration parsing, byte and uptime formatting.
#include "config/units.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

namespace pmx::config {
namespace {

constexpr std::uint64_t kKi = 1024;
constexpr std::uint64_t kMi = 1024 * kKi;
constexpr std::uint64_t kGi = 1024 * kMi;

std::uint64_t size_of(const std::string& text) {
  auto r = parse_size(text);
  INFO("parse_size(\"" << text << "\")" << (r.ok() ? "" : ": " + r.error()));
  REQUIRE(r.ok());
  return *r;
}

std::uint64_t duration_of(const std::string& text) {
  auto r = parse_duration_ms(text);
  INFO("parse_duration_ms(\"" << text << "\")" << (r.ok() ? "" : ": " + r.error()));
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("parse_size: a plain number is bytes", "[units]") {
  CHECK(size_of("512") == 512);
  CHECK(size_of("0") == 0);
  CHECK(size_of("1") == 1);
}

TEST_CASE("parse_size: K, M and G are binary multiples", "[units]") {
  CHECK(size_of("200K") == 200 * kKi);
  CHECK(size_of("150M") == 150 * kMi);
  CHECK(size_of("1G") == kGi);
  CHECK(size_of("1.5G") == kGi + kGi / 2);
  CHECK(size_of("0.5K") == 512);
}

TEST_CASE("parse_size: suffixes are case-insensitive with an optional B", "[units]") {
  CHECK(size_of("150mb") == 150 * kMi);
  CHECK(size_of("150MB") == 150 * kMi);
  CHECK(size_of("150Mb") == 150 * kMi);
  CHECK(size_of("200k") == 200 * kKi);
  CHECK(size_of("200kb") == 200 * kKi);
  CHECK(size_of("1g") == kGi);
  CHECK(size_of("1gb") == kGi);
  CHECK(size_of("512b") == 512);
}

TEST_CASE("parse_size: surrounding and inner spaces are allowed", "[units]") {
  CHECK(size_of("  512  ") == 512);
  CHECK(size_of(" 150M ") == 150 * kMi);
  CHECK(size_of("150 M") == 150 * kMi);
  CHECK(size_of("\t1G\n") == kGi);
}

TEST_CASE("parse_size: malformed sizes are errors", "[units]") {
  for (const char* bad : {"", "   ", "1Q", "abc", "-5", "1..5M", "M", ".5M", "5.M", "1.2.3",
                          "1 2", "1MM", "1KB2", "+5", "1e3", "0x10", "1T"}) {
    INFO("parse_size(\"" << bad << "\")");
    auto r = parse_size(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK_FALSE(r.error().empty());
  }
}

TEST_CASE("parse_size: the error names the text", "[units]") {
  auto r = parse_size("1Q");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::Contains("1Q"));
}

TEST_CASE("parse_size: sizes beyond 64 bits are rejected", "[units]") {
  CHECK_FALSE(parse_size("99999999999999999999").ok());
  CHECK_FALSE(parse_size("100000000000G").ok());
}

TEST_CASE("parse_size: sizes between 2^63 and 2^64 are exact or rejected", "[units]") {
  auto r = parse_size("9000000000G");  // 9.66e18 bytes: fits in uint64, not in long long
  if (r.ok()) CHECK(*r == 9000000000ull * kGi);
  auto r2 = parse_size("16000000000G");  // 1.7e19: fits in uint64
  if (r2.ok()) CHECK(*r2 == 16000000000ull * kGi);
}

TEST_CASE("parse_duration_ms: a plain number is milliseconds", "[units]") {
  CHECK(duration_of("1500") == 1500);
  CHECK(duration_of("0") == 0);
  CHECK(duration_of("1500ms") == 1500);
}

TEST_CASE("parse_duration_ms: s, m and h suffixes", "[units]") {
  CHECK(duration_of("5s") == 5000);
  CHECK(duration_of("2m") == 120'000);
  CHECK(duration_of("1h") == 3'600'000);
  CHECK(duration_of("1.5s") == 1500);
  CHECK(duration_of("0.5m") == 30'000);
  CHECK(duration_of("1.5h") == 5'400'000);
}

TEST_CASE("parse_duration_ms: suffixes are case-insensitive and spaces are allowed", "[units]") {
  CHECK(duration_of("5S") == 5000);
  CHECK(duration_of("1500MS") == 1500);
  CHECK(duration_of(" 5s ") == 5000);
  CHECK(duration_of("5 s") == 5000);
  CHECK(duration_of("1H") == 3'600'000);
}

TEST_CASE("parse_duration_ms: malformed durations are errors", "[units]") {
  for (const char* bad : {"5x", "1.5", "", "  ", "-1", "-1s", "s", "1..5s", ".5s", "5.s",
                          "5sec", "1d", "abc", "1 2s", "5ss"}) {
    INFO("parse_duration_ms(\"" << bad << "\")");
    auto r = parse_duration_ms(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK_FALSE(r.error().empty());
  }
}

TEST_CASE("parse_duration_ms: a fraction needs a unit", "[units]") {
  auto r = parse_duration_ms("1.5");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::Contains("1.5"));
  CHECK(duration_of("1.0") == 1);  // a whole number written with a fraction is still whole
}

TEST_CASE("parse_duration_ms: durations beyond 64 bits are rejected", "[units]") {
  CHECK_FALSE(parse_duration_ms("99999999999999999999").ok());
  CHECK_FALSE(parse_duration_ms("9999999999999999h").ok());
}

TEST_CASE("format_bytes: bytes, kb, mb and gb like PM2's list", "[units]") {
  CHECK(format_bytes(0) == "0b");
  CHECK(format_bytes(512) == "512b");
  CHECK(format_bytes(1023) == "1023b");
  CHECK(format_bytes(1024) == "1.0kb");
  CHECK(format_bytes(1536) == "1.5kb");
  CHECK(format_bytes(12595) == "12.3kb");
  CHECK(format_bytes(kMi) == "1.0mb");
  CHECK(format_bytes(150 * kMi) == "150.0mb");
  CHECK(format_bytes(kGi) == "1.0gb");
  CHECK(format_bytes(kGi + kGi / 5) == "1.2gb");
}

TEST_CASE("format_uptime: s, m, h and D like PM2's uptime column", "[units]") {
  CHECK(format_uptime(0) == "0s");
  CHECK(format_uptime(999) == "0s");
  CHECK(format_uptime(12'000) == "12s");
  CHECK(format_uptime(59'999) == "59s");
  CHECK(format_uptime(60'000) == "1m");
  CHECK(format_uptime(5 * 60'000 + 30'000) == "5m");
  CHECK(format_uptime(3'599'999) == "59m");
  CHECK(format_uptime(3'600'000) == "1h");
  CHECK(format_uptime(3 * 3'600'000) == "3h");
  CHECK(format_uptime(86'399'999) == "23h");
  CHECK(format_uptime(86'400'000) == "1D");
  CHECK(format_uptime(2 * 86'400'000ull) == "2D");
}

TEST_CASE("parse_duration_ms refuses more than 2^31-1 ms", "[units]") {
  CHECK(duration_of("2147483647") == kMaxDurationMs);
  CHECK(duration_of("596h") == 596ull * 3'600'000);
  for (const char* big : {"2147483648", "10000000000000", "597h", "35792m", "2147484s", "18446744073709551615"}) {
    INFO(big);
    auto r = parse_duration_ms(big);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Matchers::Contains("at most 2147483647 ms"));
  }
}

TEST_CASE("parse_size refuses more than 1 PiB", "[units]") {
  CHECK(size_of("1048576G") == kMaxSizeBytes);
  CHECK(size_of("1125899906842624") == kMaxSizeBytes);
  for (const char* big : {"1125899906842625", "1048577G", "9000000000G", "18446744073709551615"}) {
    INFO(big);
    auto r = parse_size(big);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Matchers::Contains("at most 1125899906842624 bytes"));
  }
}

}  // namespace
}  // namespace pmx::config
