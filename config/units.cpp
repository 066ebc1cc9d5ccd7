// Size and duration parsing: the only place that knows the unit suffixes.
#include "config/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace pmx::config {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits "12.5mb" into the number 12.5 and the suffix "mb"; fails on anything else.
bool split_number(std::string_view s, double& number, std::string& suffix) {
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return false;
  std::string digits(s.substr(0, i));
  if (digits.front() == '.' || digits.back() == '.' ||
      digits.find('.') != digits.rfind('.')) {
    return false;
  }
  const char* begin = digits.data();
  char* end = nullptr;
  number = std::strtod(begin, &end);
  if (end != begin + digits.size() || !std::isfinite(number)) return false;
  suffix = lower(trim(s.substr(i)));
  return true;
}

// Rounds to a count, refusing what is above max (checked as a double, before any conversion).
Result<std::uint64_t> to_count(double value, std::string_view text, const char* what, std::uint64_t max,
                               const char* max_text) {
  double rounded = std::round(value);
  if (!(rounded <= static_cast<double>(max))) {
    return Error{"invalid " + std::string(what) + " '" + std::string(text) + "': too large, at most " + max_text};
  }
  return static_cast<std::uint64_t>(rounded);
}

}  // namespace

const char* const kMaxDurationText = "2147483647 ms (about 24.8 days)";
const char* const kMaxSizeText = "1125899906842624 bytes (1048576G, 1 PiB)";

Result<std::uint64_t> parse_size(std::string_view text) {
  std::string_view s = trim(text);
  double number = 0;
  std::string suffix;
  if (!split_number(s, number, suffix)) {
    return Error{"invalid size '" + std::string(text) + "': expected a number of bytes with an optional K, M or G suffix (e.g. 150M)"};
  }
  if (!suffix.empty() && suffix.back() == 'b') suffix.pop_back();
  double factor = 0;
  if (suffix.empty()) factor = 1;
  else if (suffix == "k") factor = 1024.0;
  else if (suffix == "m") factor = 1024.0 * 1024.0;
  else if (suffix == "g") factor = 1024.0 * 1024.0 * 1024.0;
  else {
    return Error{"invalid size '" + std::string(text) + "': unknown unit, expected K, M or G"};
  }
  return to_count(number * factor, text, "size", kMaxSizeBytes, kMaxSizeText);
}

Result<std::uint64_t> parse_duration_ms(std::string_view text) {
  std::string_view s = trim(text);
  double number = 0;
  std::string suffix;
  if (!split_number(s, number, suffix)) {
    return Error{"invalid duration '" + std::string(text) + "': expected milliseconds or a number with ms, s, m or h (e.g. 5s)"};
  }
  double factor = 0;
  if (suffix.empty() || suffix == "ms") factor = 1;
  else if (suffix == "s") factor = 1000;
  else if (suffix == "m" || suffix == "min") factor = 60'000;
  else if (suffix == "h") factor = 3'600'000;
  else {
    return Error{"invalid duration '" + std::string(text) + "': unknown unit, expected ms, s, m or h"};
  }
  if (suffix.empty() && std::floor(number) != number) {
    return Error{"invalid duration '" + std::string(text) + "': milliseconds must be a whole number"};
  }
  return to_count(number * factor, text, "duration", kMaxDurationMs, kMaxDurationText);
}

std::string format_bytes(std::uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (bytes < 1024) std::snprintf(buf, sizeof buf, "%llub", static_cast<unsigned long long>(bytes));
  else if (b < 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1fkb", b / 1024);
  else if (b < 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1fmb", b / (1024.0 * 1024));
  else std::snprintf(buf, sizeof buf, "%.1fgb", b / (1024.0 * 1024 * 1024));
  return buf;
}

std::string format_uptime(std::uint64_t ms) {
  const std::uint64_t s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "D";
}

}  // namespace pmx::config
