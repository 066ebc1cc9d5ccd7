// Tests of config/log_format.hpp: log_date_format tokens, time: true, JSON strings of log lines.
#include "config/log_format.hpp"

#include <catch2/catch.hpp>

#include "time_points.hpp"

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace pmx::config {
namespace {

using SystemClock = std::chrono::system_clock;
using pmx::test::utc;

/// Sets TZ (a POSIX rule, so no zoneinfo file is needed) for the test's lifetime.
class TzGuard {
 public:
  explicit TzGuard(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~TzGuard() {
    if (old_) ::setenv("TZ", old_->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }
  TzGuard(const TzGuard&) = delete;
  TzGuard& operator=(const TzGuard&) = delete;

 private:
  std::optional<std::string> old_;
};

std::string fmt(std::string_view pattern, SystemClock::time_point t) {
  auto f = DateFormat::compile(pattern);
  INFO(pattern << ": " << (f ? "" : f.error()));
  REQUIRE(f.ok());
  return f->format(t);
}

std::string json_of(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST_CASE("log_format: every date token, in UTC", "[log_format]") {
  TzGuard tz("UTC0");
  const auto t = utc(2026, 3, 7, 9, 5, 4, 7);  // a Saturday
  CHECK(fmt("YYYY", t) == "2026");
  CHECK(fmt("YY", t) == "26");
  CHECK(fmt("MM", t) == "03");
  CHECK(fmt("M", t) == "3");
  CHECK(fmt("MMM", t) == "Mar");
  CHECK(fmt("MMMM", t) == "March");
  CHECK(fmt("DD", t) == "07");
  CHECK(fmt("D", t) == "7");
  CHECK(fmt("d", t) == "6");
  CHECK(fmt("dd", t) == "Sa");
  CHECK(fmt("ddd", t) == "Sat");
  CHECK(fmt("dddd", t) == "Saturday");
  CHECK(fmt("HH", t) == "09");
  CHECK(fmt("H", t) == "9");
  CHECK(fmt("hh", t) == "09");
  CHECK(fmt("h", t) == "9");
  CHECK(fmt("mm", t) == "05");
  CHECK(fmt("m", t) == "5");
  CHECK(fmt("ss", t) == "04");
  CHECK(fmt("s", t) == "4");
  CHECK(fmt("SSS", t) == "007");
  CHECK(fmt("Z", t) == "+00:00");
  CHECK(fmt("ZZ", t) == "+0000");
  CHECK(fmt("A", t) == "AM");
  CHECK(fmt("a", t) == "am");
  // Two-digit fields that need no padding, and the afternoon.
  const auto u = utc(2026, 12, 31, 23, 59, 58, 999);
  CHECK(fmt("YYYY-MM-DD HH:mm:ss.SSS", u) == "2026-12-31 23:59:58.999");
  CHECK(fmt("M/D h:m:s A a", u) == "12/31 11:59:58 PM pm");
  CHECK(fmt("YY", utc(2005, 1, 1, 0, 0, 0)) == "05");
}

TEST_CASE("log_format: PM2's usual formats", "[log_format]") {
  TzGuard tz("UTC0");
  const auto t = utc(2026, 11, 28, 3, 5, 0, 123);
  CHECK(fmt(kTimeFormat, t) == "2026-11-28T03:05:00.123+00:00");
  CHECK(fmt("YYYY-MM-DD HH:mm:ss Z", t) == "2026-11-28 03:05:00 +00:00");
  CHECK(fmt("YYYY-MM-DD HH:mm Z", t) == "2026-11-28 03:05 +00:00");
}

TEST_CASE("log_format: 12-hour clock around midnight and noon", "[log_format]") {
  TzGuard tz("UTC0");
  CHECK(fmt("hh:mm A", utc(2026, 1, 1, 0, 30, 0)) == "12:30 AM");
  CHECK(fmt("h:mm a", utc(2026, 1, 1, 0, 0, 0)) == "12:00 am");
  CHECK(fmt("hh:mm A", utc(2026, 1, 1, 11, 59, 0)) == "11:59 AM");
  CHECK(fmt("hh:mm A", utc(2026, 1, 1, 12, 0, 0)) == "12:00 PM");
  CHECK(fmt("h:mm A", utc(2026, 1, 1, 13, 1, 0)) == "1:01 PM");
}

TEST_CASE("log_format: [literal] text and characters that are not tokens", "[log_format]") {
  TzGuard tz("UTC0");
  const auto t = utc(2026, 11, 28, 3, 5, 0);
  CHECK(fmt("[at] HH:mm", t) == "at 03:05");
  CHECK(fmt("[YYYY MM DD] YYYY", t) == "YYYY MM DD 2026");
  CHECK(fmt("YYYY[]MM", t) == "202611");
  CHECK(fmt("x_y|#!", t) == "x_y|#!");  // nothing here is a token
  CHECK(fmt("HH]", t) == "03]");        // a lone ']' is copied
  CHECK(fmt("MMMMM", t) == "November11");  // the longest token first, as dayjs
  CHECK(fmt("日本 HH", t) == "日本 03");
}

TEST_CASE("log_format: bad date formats are refused with a clear message", "[log_format]") {
  auto empty = DateFormat::compile("");
  REQUIRE_FALSE(empty.ok());
  CHECK_THAT(empty.error(), Catch::Contains("empty"));
  auto open = DateFormat::compile("YYYY [at HH:mm");
  REQUIRE_FALSE(open.ok());
  CHECK_THAT(open.error(), Catch::Contains("unterminated '['"));
  CHECK_THAT(open.error(), Catch::Contains("position 6"));
}

TEST_CASE("log_format: local time and offset follow TZ", "[log_format]") {
  const auto winter = utc(2026, 11, 28, 3, 5, 0, 123);
  const auto summer = utc(2026, 7, 1, 22, 30, 0);
  {
    TzGuard tz("CET-1CEST,M3.5.0,M10.5.0/3");
    CHECK(fmt(kTimeFormat, winter) == "2026-11-28T04:05:00.123+01:00");
    CHECK(fmt("ZZ", winter) == "+0100");
    CHECK(fmt("YYYY-MM-DD HH:mm Z", summer) == "2026-07-02 00:30 +02:00");  // the next day
    CHECK(fmt("ZZ", summer) == "+0200");
  }
  {
    TzGuard tz("EST5EDT,M3.2.0,M11.1.0");
    CHECK(fmt(kTimeFormat, winter) == "2026-11-27T22:05:00.123-05:00");
    CHECK(fmt("ZZ", winter) == "-0500");
    CHECK(fmt("hh A", winter) == "10 PM");
  }
  {
    TzGuard tz("IST-5:30");
    CHECK(fmt("HH:mm Z ZZ", winter) == "08:35 +05:30 +0530");
  }
}

TEST_CASE("log_format: one format stamps many times (the cached second moves on)", "[log_format]") {
  TzGuard tz("UTC0");
  auto f = DateFormat::compile("HH:mm:ss.SSS");
  REQUIRE(f.ok());
  const auto t = utc(2026, 11, 28, 3, 5, 0);
  CHECK(f->format(t) == "03:05:00.000");
  CHECK(f->format(t + std::chrono::milliseconds(999)) == "03:05:00.999");
  CHECK(f->format(t + std::chrono::milliseconds(1000)) == "03:05:01.000");
  CHECK(f->format(t - std::chrono::milliseconds(1)) == "03:04:59.999");
  std::string out = "prefix ";
  f->append(out, t + std::chrono::hours(1));
  CHECK(out == "prefix 04:05:00.000");
  // Before the epoch, the milliseconds still count forward within the second.
  CHECK(f->format(utc(1969, 12, 31, 23, 59, 59, 250)) == "23:59:59.250");
}

TEST_CASE("log_format: JSON strings escape quotes, backslashes and control characters", "[log_format]") {
  CHECK(json_of("") == "\"\"");
  CHECK(json_of("plain text") == "\"plain text\"");
  CHECK(json_of("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(json_of("C:\\dir") == "\"C:\\\\dir\"");
  CHECK(json_of("a\nb\rc\td\be\ff") == "\"a\\nb\\rc\\td\\be\\ff\"");
  CHECK(json_of(std::string_view("\x00\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\x7f\"");
  CHECK(json_of("\x1b[31mred\x1b[0m") == "\"\\u001b[31mred\\u001b[0m\"");
  std::string out = "{\"message\":";
  append_json_string(out, "x");
  CHECK(out == "{\"message\":\"x\"");
}

TEST_CASE("log_format: JSON strings keep valid UTF-8 and replace invalid bytes", "[log_format]") {
  CHECK(json_of("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
  CHECK(json_of("\xff") == "\"\\ufffd\"");
  CHECK(json_of("a\x80z") == "\"a\\ufffdz\"");                     // a lone continuation byte
  CHECK(json_of("\xc3") == "\"\\ufffd\"");                         // cut at the end
  CHECK(json_of("\xe6\x97") == "\"\\ufffd\"");                       // cut: one for the sequence
  CHECK(json_of("\xe6\x97z") == "\"\\ufffdz\"");
  CHECK(json_of("\xc0\xaf") == "\"\\ufffd\\ufffd\"");              // overlong '/'
  CHECK(json_of("\xe0\x80\xaf") == "\"\\ufffd\\ufffd\\ufffd\"");   // overlong, 3 bytes
  CHECK(json_of("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");   // a UTF-16 surrogate
  CHECK(json_of("\xf4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // above U+10FFFF
  CHECK(json_of("\xc3(") == "\"\\ufffd(\"");                       // a bad second byte
  CHECK(json_of("\xf4\x8f\xbf\xbf") == "\"\xf4\x8f\xbf\xbf\"");    // U+10FFFF itself is valid
}

TEST_CASE("log_format: every JSON string parses back (nlohmann) to the valid text", "[log_format]") {
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes += static_cast<char>(c);
  const std::string samples[] = {
      "", "hello", "tab\there", "quote\" backslash\\ slash/", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
      std::string("nul\0inside", 10), "\xff\xfe binary \x80\x81", all_bytes,
  };
  for (const auto& s : samples) {
    std::string doc = "{\"message\":";
    append_json_string(doc, s);
    doc += "}";
    INFO(doc);
    const auto parsed = nlohmann::json::parse(doc, nullptr, false);
    REQUIRE_FALSE(parsed.is_discarded());
    const std::string back = parsed["message"].get<std::string>();
    // Valid text comes back byte for byte, each ill-formed part as one U+FFFD (as nlohmann's
    // own replacement does it).
    const std::string expected = nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    CHECK(nlohmann::json(back).dump() == expected);
  }
}

}  // namespace
}  // namespace pmx::config
