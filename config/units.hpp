// Parsing of sizes ("150M") and durations ("5s", 1500) as PM2's options accept them.
#pragma once

#include <cstdint>
#include <string_view>

#include "config/result.hpp"

namespace pmx::config {

/// Parses a byte size: a plain number of bytes, or a number followed by K, M or G
/// (binary multiples, case-insensitive, an optional trailing "B": "512", "200K", "150MB", "1G").
Result<std::uint64_t> parse_size(std::string_view text);

/// Parses a duration into milliseconds: a plain number is milliseconds; suffixes ms, s, m, h
/// ("1500", "1500ms", "5s", "2m", "1h"). Fractions are allowed with a suffix ("1.5s").
Result<std::uint64_t> parse_duration_ms(std::string_view text);

/// Formats a byte count for humans: "0b", "512b", "12.3kb", "45.6mb", "1.2gb" (as PM2's list).
std::string format_bytes(std::uint64_t bytes);

/// Formats a duration for humans: "12s", "5m", "3h", "2D" (as PM2's uptime column).
std::string format_uptime(std::uint64_t ms);

}  // namespace pmx::config
