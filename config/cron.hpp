// CronSchedule: the cron_restart option, as PM2 reads it (the `cron` package): when to restart.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>

#include "config/result.hpp"

namespace pmx::config {

/// A cron expression in local time: five fields (minute hour day-of-month month day-of-week)
/// or six (seconds first). A field is `*`, a number, a range `a-b`, a list `a,b`, and any of
/// them stepped `/n`; months and week days may be named (jan, mon); week day 7 is Sunday, as 0;
/// `?` is `*`. Aliases: @yearly @annually @monthly @weekly @daily @midnight @hourly.
/// When both day-of-month and day-of-week are restricted, a day matching either one matches
/// (as in cron(8)).
class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  /// The schedule text means, or an error naming the field that is wrong.
  static Result<CronSchedule> parse(const std::string& text);

  /// The first second strictly after `after` that the schedule matches; nullopt when none comes
  /// within eight years (a day that never exists: 31 February).
  std::optional<TimePoint> next(TimePoint after) const;

 private:
  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;      ///< 1..31
  std::bitset<13> months_;    ///< 1..12
  std::bitset<7> weekdays_;   ///< 0 Sunday .. 6
  bool any_day_ = true;       ///< day-of-month is *
  bool any_weekday_ = true;   ///< day-of-week is *
};

}  // namespace pmx::config
