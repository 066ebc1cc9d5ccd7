// `pmx logs`: the tail of the apps' log files, then their output live, as `pm2 logs` shows it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/paths.hpp"

namespace pmx::cli {

struct LogsOptions {
  std::string target = "all";
  long long lines = 15;
  bool out_only = false;  ///< --out
  bool err_only = false;  ///< --err
  bool raw = false;
  bool json = false;
  bool nostream = false;
  std::optional<std::string> timestamp;  ///< --timestamp [fmt]; "" means the default format
  std::string highlight;
  bool color = false;  ///< stdout is a terminal and colours are not turned off
  /// stdout is a terminal: control characters of the apps' lines are shown escaped (`\x1b`),
  /// never passed to the terminal (--raw too; a pipe gets the bytes as they are).
  bool escape = false;
};

/// The format --timestamp uses without a value (dayjs tokens, as PM2).
inline constexpr std::string_view kDefaultStampFormat = "YYYY-MM-DDTHH:mm:ss";

/// One line as `pmx logs` receives it.
struct LogLine {
  int id = -1;
  std::string name;
  bool err = false;
  std::string text;  ///< without its '\n'
  std::int64_t at_ms = 0;  ///< when pmxd read it (the tail: when pmx printed it), epoch ms
};

/// text with its control characters (C0 but tab, DEL, and C1 written as UTF-8) shown as
/// `\xNN` for each byte, as journalctl shows them: what an app logs can never move the
/// cursor, retitle the window or program the terminal of whoever reads its logs.
std::string escape_controls(std::string_view text);

/// The local time at_ms in format (dayjs tokens YYYY, MM, DD, HH, mm, ss, SSS; other text as is).
std::string format_stamp(std::int64_t at_ms, std::string_view format);

/// How `pmx logs` prints one line (newline included): `<id>|<name> | ` padded as PM2 pads it,
/// green for out and red for err in colour, and without colour `err | ` after the prefix of
/// stderr lines; --raw the bare line; --json one JSON object; --timestamp `<stamp>: ` before
/// the text; --highlight inverse video around the word, in colour only. With escape, the text's
/// control characters are escaped (escape_controls), --json aside (JSON escapes them).
std::string format_log_line(const LogLine& line, const LogsOptions& o);

/// How a state change of a followed app prints (`PMX        | 0|api: online (pid 42)`), or ""
/// for a notification that prints nothing.
std::string format_state_event(const nlohmann::json& params, const LogsOptions& o);

/// The lines of one `log` notification of a follow (its data split at each '\n').
std::vector<LogLine> log_lines(const nlohmann::json& params);

/// Runs `pmx logs`; returns the exit code. Starts pmxd when none answers. Ends with 0 when
/// stdout is closed (`| head`) or on Ctrl-C.
int run_logs(const config::Paths& paths, const LogsOptions& o, std::optional<std::chrono::milliseconds> timeout);

}  // namespace pmx::cli
