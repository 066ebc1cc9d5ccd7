// CommandLine: everything a pmx command line can set, as CLI11 fills it in, and Invocation,
// what a verb's run function is handed.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/logs.hpp"
#include "cli/serve_verb.hpp"
#include "cli/startup.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace pmx::cli {

class DaemonConnection;

/// Options shared by every verb.
struct Globals {
  bool no_color = false;
  std::optional<std::chrono::milliseconds> timeout;  ///< --timeout; zero: no limit
};

/// Everything `start` accepts; strings stay as typed until the spec is built.
struct StartOptions {
  std::vector<std::string> positional;  ///< script, then its args (after --)
  std::string name, namespace_, cwd, interpreter, interpreter_args, kill_signal;
  std::string max_restarts, min_uptime, restart_delay, exp_backoff, exp_backoff_max, kill_timeout;
  std::string max_memory_restart, instances, out_file, error_file, pid_file;
  std::vector<std::string> stop_exit_codes;
  bool force = false;
  bool no_autorestart = false;
  bool no_autostart = false;
  std::map<std::string, std::string> values;  ///< more options by their PM2 name, as typed
  std::map<std::string, bool> switches;       ///< boolean options given as flags
};

/// Options of the verbs that take an ecosystem file.
struct FileOptions {
  std::string only;  ///< --only a,b
  std::string env;   ///< --env production
  bool update_env = false;
  bool force = false;
};

/// Everything a command line can set, filled in by CLI11.
struct CommandLine {
  Globals globals;
  std::string timeout_text;
  StartOptions start;
  FileOptions file;
  std::vector<std::string> targets;
  bool update_env = false;
  bool watch = false;  ///< stop/restart --watch
  std::string one;  ///< the single name or id of env, pid and id; the app of scale
  std::string signal_name;
  std::string count;  ///< scale's N, +N or -N
  std::string action;  ///< trigger's action name
  std::optional<std::string> action_params;  ///< trigger's parameters
  std::string data;   ///< sendData's JSON
  std::string topic;  ///< sendData's topic
  bool force = false;  ///< save --force
  std::optional<std::string> from_pm2;  ///< resurrect --from-pm2 [path]
  StartupOptions startup;
  ServeVerbOptions serve;
  LogsOptions logs;
  CLI::Option* logs_timestamp = nullptr;  ///< --timestamp, given with or without a format
  std::string logs_stamp_format;
};

/// One run of a verb: the parsed command line, the words after `--`, and the daemon.
struct Invocation {
  CommandLine& cl;
  std::vector<std::string> app_args;
  DaemonConnection& daemon;
  std::string verb;  ///< the verb's own name (not the alias typed)
};

}  // namespace pmx::cli
