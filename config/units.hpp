// Parsing of sizes ("150M") and durations ("5s", 1500) as PM2's options accept them.
#pragma once

#include <cstdint>
#include <string_view>

#include "config/result.hpp"

namespace pmx::config {

/// Longest duration any option accepts: 2^31 - 1 ms, about 24.8 days (Node's setTimeout, and
/// so PM2, caps its timers there too). Longer values are refused, never wrapped.
constexpr std::uint64_t kMaxDurationMs = 2147483647;

/// Largest size any option accepts: 1 PiB (2^50 bytes), exact as a double and far from any
/// signed or unsigned overflow where sizes are added or compared.
constexpr std::uint64_t kMaxSizeBytes = std::uint64_t{1} << 50;

/// The two limits as messages say them ("2147483647 ms (about 24.8 days)").
extern const char* const kMaxDurationText;
extern const char* const kMaxSizeText;

/// Parses a byte size: a plain number of bytes, or a number followed by K, M or G
/// (binary multiples, case-insensitive, an optional trailing "B": "512", "200K", "150MB", "1G").
/// Above kMaxSizeBytes is an error.
Result<std::uint64_t> parse_size(std::string_view text);

/// Parses a duration into milliseconds: a plain number is milliseconds; suffixes ms, s, m, h
/// ("1500", "1500ms", "5s", "2m", "1h"). Fractions are allowed with a suffix ("1.5s").
/// Above kMaxDurationMs is an error.
Result<std::uint64_t> parse_duration_ms(std::string_view text);

/// Formats a byte count for humans: "0b", "512b", "12.3kb", "45.6mb", "1.2gb" (as PM2's list).
std::string format_bytes(std::uint64_t bytes);

/// Formats a duration for humans: "12s", "5m", "3h", "2D" (as PM2's uptime column).
std::string format_uptime(std::uint64_t ms);

}  // namespace pmx::config
