// Log line formats: log_date_format time stamps (PM2's dayjs tokens) and JSON strings for
// log_type: json.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "config/result.hpp"

namespace pmx::config {

/// A log_date_format compiled once (dayjs tokens, as PM2 uses): YYYY YY MM M DD D HH H hh h
/// mm m ss s SSS Z ZZ A a, and [literal] text; any other character is copied. Also dayjs's
/// MMM MMMM (Jan, January), d dd ddd dddd (0, Su, Sun, Sunday), in English.
/// At each position the longest token wins ("MMMMM" is "MMMM" then "M").
class DateFormat {
 public:
  /// Fails with a clear message on an unterminated '['.  Empty pattern is an error too.
  static Result<DateFormat> compile(std::string_view pattern);

  /// Appends t formatted in local time (TZ honoured; Z = +01:00, ZZ = +0100).
  /// The local time of the last second formatted is kept, so stamping many lines in the same
  /// second calls localtime_r once; a change of TZ (with tzset) shows from the next second on.
  void append(std::string& out, std::chrono::system_clock::time_point t) const;
  std::string format(std::chrono::system_clock::time_point t) const;

 private:
  enum class Token : std::uint8_t {
    Literal, Year4, Year2, Month2, Month, MonthShort, MonthLong, Day2, Day, Weekday, WeekdayMin,
    WeekdayShort, WeekdayLong, Hour2, Hour, Hour12_2, Hour12, Minute2, Minute, Second2, Second,
    Millis, Offset, OffsetBasic, Upper, Lower,
  };
  struct Piece {
    Token token;
    std::string text;  ///< Literal only
  };

  std::vector<Piece> pieces_;
  mutable std::int64_t cached_second_ = INT64_MIN;
  mutable std::tm cached_tm_{};
};

/// What `time: true` (--time) uses: ISO 8601 with milliseconds and offset,
/// "YYYY-MM-DDTHH:mm:ss.SSSZ" (e.g. 2026-11-28T03:05:00.123+00:00).
inline constexpr std::string_view kTimeFormat = "YYYY-MM-DDTHH:mm:ss.SSSZ";

/// Appends s as a JSON string (with quotes): escapes ", \, control characters; invalid
/// UTF-8 bytes become \ufffd (a log line may hold any bytes; the output must stay valid JSON).
/// Valid UTF-8 is copied as it is; each ill-formed part (a stray byte, a cut sequence, an
/// overlong form, a surrogate, a code point above U+10FFFF) becomes one \ufffd per maximal
/// subpart, as Unicode recommends and as nlohmann's error_handler_t::replace does.
void append_json_string(std::string& out, std::string_view s);

}  // namespace pmx::config
