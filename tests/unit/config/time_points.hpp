// Time points from calendar dates, for the tests of time-based config (cron, stamps, names).
#pragma once

#include <chrono>
#include <ctime>

namespace pmx::test {

/// The broken-down date as a std::tm (no DST decision: callers set tm_isdst as they need).
inline std::tm calendar(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return tm;
}

/// The time point of a UTC date and time, plus milliseconds.
inline std::chrono::system_clock::time_point utc(int year, int month, int day, int hour, int minute, int second,
                                                 int millis = 0) {
  std::tm tm = calendar(year, month, day, hour, minute, second);
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(millis);
}

/// The time point of a date and time in the local time zone (DST as the zone says).
inline std::chrono::system_clock::time_point local(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm = calendar(year, month, day, hour, minute, second);
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}

}  // namespace pmx::test
