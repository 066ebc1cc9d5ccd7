// CommandLine: everything a pmx command line can set, as CLI11 fills it in, and Invocation,
// what a verb's run function is handed.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/logs.hpp"
#include "cli/deploy_verb.hpp"
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

/// Everything `start` accepts, by the PM2 name of its option (config/app_options.hpp); strings
/// stay as typed until the spec is built.
struct StartOptions {
  std::vector<std::string> positional;  ///< script, then its args (after --)
  std::map<std::string, std::string> values;  ///< value flags, as typed
  std::map<std::string, bool> switches;       ///< switches given (--no-x too: given means false)
  std::map<std::string, std::vector<std::string>> lists;  ///< flags taking several values

  /// The typed value of option's flag; "" when it was not given.
  const std::string& value(const std::string& option) const {
    static const std::string none;
    auto it = values.find(option);
    return it == values.end() ? none : it->second;
  }
  /// Whether option's switch was given.
  bool on(const std::string& option) const {
    auto it = switches.find(option);
    return it != switches.end() && it->second;
  }
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
  DeployVerbOptions deploy;
  LogsOptions logs;
  CLI::Option* logs_timestamp = nullptr;  ///< --timestamp, given with or without a format
  std::string logs_stamp_format;
  std::string monit_interval = "1s";  ///< monit --interval
};

/// One run of a verb: the parsed command line, the words after `--`, and the daemon.
struct Invocation {
  CommandLine& cl;
  std::vector<std::string> app_args;
  DaemonConnection& daemon;
  std::string verb;  ///< the verb's own name (not the alias typed)
};

}  // namespace pmx::cli
