// The terminal escape sequences the CLI's tables and log lines are coloured with.
#pragma once

namespace pmx::cli::ansi {

constexpr const char* kReset = "\x1b[0m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kBoldOff = "\x1b[22m";
constexpr const char* kInverse = "\x1b[7m";
constexpr const char* kInverseOff = "\x1b[27m";
constexpr const char* kRed = "\x1b[31m";
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kBlue = "\x1b[34m";
constexpr const char* kCyan = "\x1b[36m";
constexpr const char* kColorOff = "\x1b[39m";
constexpr const char* kGrey = "\x1b[90m";

}  // namespace pmx::cli::ansi
