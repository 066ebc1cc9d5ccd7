// AppSpec: the one model of an app and its options, shared by the CLI, the wire and the daemon.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/result.hpp"

namespace pmx::config {

using Env = std::map<std::string, std::string>;

/// Everything pmx knows about an app, with PM2's option names and defaults.
/// Durations are milliseconds, sizes bytes. Paths are absolute once the CLI has resolved them.
struct AppSpec {
  std::string name;
  std::string script;                     ///< absolute path of the script or binary (pm_exec_path)
  std::vector<std::string> args;
  std::string interpreter;                ///< empty: exec the script directly
  std::vector<std::string> interpreter_args;
  std::string cwd;
  std::string namespace_ = "default";
  int instances = 1;
  Env env;                                ///< the app's own env, merged over the caller's
  bool autorestart = true;
  int max_restarts = 16;
  std::uint64_t min_uptime_ms = 1000;
  std::uint64_t restart_delay_ms = 0;
  std::uint64_t exp_backoff_restart_delay_ms = 0;  ///< 0: no exponential backoff
  std::uint64_t exp_backoff_max_ms = 15000;        ///< cap of the exponential backoff
  std::vector<int> stop_exit_codes;
  std::uint64_t kill_timeout_ms = 1600;
  std::string kill_signal = "SIGINT";
  std::uint64_t max_memory_restart = 0;   ///< bytes of RSS of the whole tree; 0: no limit
  std::string out_file;                   ///< empty: <home>/logs/<name>-out.log
  std::string error_file;                 ///< empty: <home>/logs/<name>-error.log
  std::string pid_file;                   ///< empty: <home>/pids/<name>-<id>.pid
};

/// Serializes with PM2's option names (snake_case).
nlohmann::json to_json(const AppSpec& spec);

/// Reads a spec from JSON with PM2's option names and camelCase aliases. Fails with a message
/// naming the option and what was expected; unknown keys are ignored here (the file loaders
/// warn about them).
Result<AppSpec> spec_from_json(const nlohmann::json& j);

/// Checks the values that no type can express (positive counts, a signal name, a name).
Result<bool> validate(const AppSpec& spec);

/// The signal number for "SIGINT", "INT", "2"; 0 when the name is unknown.
int signal_from_name(const std::string& name);

/// "SIGINT" for 2; "SIG<n>" for numbers without a name.
std::string signal_name(int signo);

/// App names become file names with characters outside [A-Za-z0-9.-] replaced by '-'.
std::string file_safe_name(const std::string& name);

/// Splits a string into words the way a shell would: whitespace separates, quotes group,
/// backslash escapes ("--port 80 --msg 'hi there'").
Result<std::vector<std::string>> split_shell_words(const std::string& text);

/// Default app name of a script: its basename without the extension.
std::string default_name(const std::string& script);

}  // namespace pmx::config
