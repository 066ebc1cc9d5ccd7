// Cron expressions: parsing into bit sets, and the next matching second by local calendar steps.
#include "config/cron.hpp"

#include <cctype>
#include <ctime>
#include <sstream>
#include <vector>

namespace pmx::config {
namespace {

struct Field {
  const char* name;
  int low, high;
  const char* const* names;  ///< names for low, low+1, ... (nullptr: numbers only)
};

constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
// 7 is Sunday too, by number only: the null entry ends the lookup there instead of past the end.
constexpr const char* kWeekdays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

/// One value of a field: a number, or a name of the field's names.
std::optional<int> value_of(const std::string& text, const Field& f) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
    if (text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoi(text);
  }
  if (!f.names || text.size() != 3) return std::nullopt;
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i <= f.high - f.low && i < 12; ++i) {
    if (f.names[i] && lower == f.names[i]) return f.low + i;
  }
  return std::nullopt;
}

/// Sets the bits of field text (a list of items) in bits[low..high]; false when it is not one.
template <std::size_t N>
bool parse_field(const std::string& text, const Field& f, std::bitset<N>& bits, int top) {
  std::stringstream items(text);
  std::string item;
  bool any = false;
  while (std::getline(items, item, ',')) {
    any = true;
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string::npos) {
      const std::string s = item.substr(slash + 1);
      if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) return false;
      step = std::stoi(s);
      if (step < 1) return false;
      item = item.substr(0, slash);
    }
    int from = f.low, to = top;
    if (item != "*" && item != "?") {
      const auto dash = item.find('-');
      auto a = value_of(item.substr(0, dash), f);
      if (!a) return false;
      from = *a;
      if (dash != std::string::npos) {
        auto b = value_of(item.substr(dash + 1), f);
        if (!b) return false;
        to = *b;
      } else {
        to = step > 1 ? top : from;  // "5/15": from 5 to the end, every 15
      }
    }
    if (from < f.low || to > top || from > to) return false;
    for (int v = from; v <= to; v += step) bits.set(static_cast<std::size_t>(v == 7 && top == 7 ? 0 : v));
  }
  return any;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(const std::string& input) {
  std::string text = input;
  const std::pair<const char*, const char*> aliases[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  for (const auto& [alias, meaning] : aliases) {
    if (text == alias) text = meaning;
  }
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  if (words.size() != 5 && words.size() != 6) {
    return Error{"expected a cron expression of 5 fields (minute hour day month weekday) or 6 (seconds "
                 "first), or @hourly, @daily, @weekly, @monthly, @yearly; got '" + input + "'"};
  }
  if (words.size() == 5) words.insert(words.begin(), "0");
  CronSchedule c;
  const Field fields[] = {{"seconds", 0, 59, nullptr}, {"minutes", 0, 59, nullptr}, {"hours", 0, 23, nullptr},
                          {"day of month", 1, 31, nullptr}, {"month", 1, 12, kMonths},
                          {"day of week", 0, 7, kWeekdays}};
  std::bitset<8> weekdays;
  const bool ok[] = {parse_field(words[0], fields[0], c.seconds_, 59), parse_field(words[1], fields[1], c.minutes_, 59),
                     parse_field(words[2], fields[2], c.hours_, 23), parse_field(words[3], fields[3], c.days_, 31),
                     parse_field(words[4], fields[4], c.months_, 12), parse_field(words[5], fields[5], weekdays, 7)};
  for (std::size_t i = 0; i < 6; ++i) {
    if (!ok[i]) {
      const Field& f = fields[i];
      return Error{"'" + input + "': the " + std::string(f.name) + " field '" + words[i] + "' is not a value " +
                   std::to_string(f.low) + "-" + std::to_string(f.high) + ", a range, a list or a step"};
    }
  }
  for (int d = 0; d < 7; ++d) c.weekdays_[static_cast<std::size_t>(d)] = weekdays[static_cast<std::size_t>(d)];
  c.any_day_ = words[3] == "*" || words[3] == "?";
  c.any_weekday_ = words[5] == "*" || words[5] == "?";
  return c;
}

std::optional<CronSchedule::TimePoint> CronSchedule::next(TimePoint after) const {
  std::time_t t = std::chrono::system_clock::to_time_t(after) + 1;
  std::tm tm{};
  localtime_r(&t, &tm);
  auto normalize = [&tm] {
    tm.tm_isdst = -1;
    std::time_t n = std::mktime(&tm);
    localtime_r(&n, &tm);
    return n;
  };
  const int last_year = tm.tm_year + 8;
  while (tm.tm_year <= last_year) {
    const bool day_ok = any_day_ && any_weekday_   ? true
                        : any_day_                 ? weekdays_[static_cast<std::size_t>(tm.tm_wday)]
                        : any_weekday_             ? days_[static_cast<std::size_t>(tm.tm_mday)]
                                                   : days_[static_cast<std::size_t>(tm.tm_mday)] ||
                                           weekdays_[static_cast<std::size_t>(tm.tm_wday)];
    if (!months_[static_cast<std::size_t>(tm.tm_mon + 1)]) {
      tm.tm_mon += 1, tm.tm_mday = 1, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
    } else if (!day_ok) {
      tm.tm_mday += 1, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
    } else if (!hours_[static_cast<std::size_t>(tm.tm_hour)]) {
      tm.tm_hour += 1, tm.tm_min = 0, tm.tm_sec = 0;
    } else if (!minutes_[static_cast<std::size_t>(tm.tm_min)]) {
      tm.tm_min += 1, tm.tm_sec = 0;
    } else if (!seconds_[static_cast<std::size_t>(tm.tm_sec)]) {
      tm.tm_sec += 1;
    } else {
      return std::chrono::system_clock::from_time_t(normalize());
    }
    normalize();
  }
  return std::nullopt;
}

}  // namespace pmx::config
