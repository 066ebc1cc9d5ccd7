// CPU quota: systemd's CPUQuota= as an app option ("50%": half of one CPU, "150%": one and a
// half), read and written as a whole percentage.
#pragma once

#include <string>
#include <string_view>

#include "config/result.hpp"

namespace pmx::config {

/// The smallest quota: 1% of one CPU (the kernel's smallest period share, 1 ms in 100 ms).
constexpr int kMinCpuQuotaPercent = 1;
/// The largest quota: 1000 CPUs.
constexpr int kMaxCpuQuotaPercent = 100000;

/// Parses "50%" or "150%" into a percentage of one CPU. A bare number ("50", "0.5") is
/// refused: is it a percentage or a count of CPUs? The message says how to write it.
Result<int> parse_cpu_quota(std::string_view text);

/// "50%" for 50; "" for 0 (no quota).
std::string format_cpu_quota(int percent);

}  // namespace pmx::config
