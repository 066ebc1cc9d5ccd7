// CPU quota: "50%" read and written.
#include "config/cpu_quota.hpp"

#include <charconv>

namespace pmx::config {

Result<int> parse_cpu_quota(std::string_view text) {
  const std::string expected =
      "a percentage of one CPU, like 50% or 150% (100% = one CPU), from " + std::to_string(kMinCpuQuotaPercent) +
      "% to " + std::to_string(kMaxCpuQuotaPercent) + "%";
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty() || text.back() != '%') return Error{"expected " + expected};
  const std::string_view digits = text.substr(0, text.size() - 1);
  if (digits.empty() || digits.size() > 7 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return Error{"expected " + expected + " (a whole percentage)"};
  }
  int percent = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), percent);
  if (percent < kMinCpuQuotaPercent || percent > kMaxCpuQuotaPercent) return Error{"expected " + expected};
  return percent;
}

std::string format_cpu_quota(int percent) { return percent > 0 ? std::to_string(percent) + "%" : ""; }

}  // namespace pmx::config
