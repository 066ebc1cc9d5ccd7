// AppSpec: the one model of an app and its options, shared by the CLI, the wire and the daemon.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/health_check.hpp"
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
  // The kernel's limits of each instance's cgroup (issue 22; daemon/process/resource_limits.hpp).
  int cpu_quota = 0;                      ///< percent of one CPU (cpu.max); 0: none
  std::uint64_t memory_max = 0;           ///< bytes, the hard limit of the tree (memory.max); 0: none
  int tasks_max = 0;                      ///< processes and threads of the tree (pids.max); 0: none
  std::string out_file;                   ///< empty: <home>/logs/<name>-out.log
  std::string error_file;                 ///< empty: <home>/logs/<name>-error.log
  std::string pid_file;                   ///< empty: <home>/pids/<name>-<id>.pid

  // Options of the ecosystem files (PM2's schema).
  /// fork | cluster. Unset, PM2's rule: cluster when `instances` is given for a Node app (and,
  /// beyond PM2, for any app with `port` or `listen`); see runs_in_cluster_mode.
  std::string exec_mode = "fork";
  bool autostart = true;                  ///< false: registered stopped
  bool filter_env_all = false;            ///< filter_env: true drops the caller's environment
  std::vector<std::string> filter_env;    ///< prefixes of caller variables to drop
  int port = 0;                           ///< sets PORT; in cluster mode also the port pmx binds; 0: none
  /// Cluster mode: the sockets pmx binds once and hands to every instance (config/listen_address.hpp).
  std::vector<std::string> listen;
  bool reuse_port = false;                ///< cluster mode: instances bind with SO_REUSEPORT themselves
  std::string instance_var = "NODE_APP_INSTANCE";
  std::string increment_var;              ///< a variable incremented per instance (from its env value)
  std::string uid;                        ///< user to run as (needs root); empty: pmxd's
  std::string gid;
  bool append_env_to_name = false;        ///< name becomes <name>-<env> with --env
  bool force = false;                     ///< start even if already launched
  // Logs.
  std::string log_file;                   ///< combined log; empty: none
  bool merge_logs = false;                ///< one file for every instance (no -<id>)
  bool disable_logs = false;              ///< output goes to /dev/null
  std::string log_date_format;            ///< dayjs tokens (config/log_format.hpp); empty: none
  bool time = false;                      ///< stamp lines with kTimeFormat (ISO 8601)
  std::string log_type;                   ///< "", "raw" or "json" (one JSON object per line)
  // Rotation: unset options take pmx.yaml's defaults (config/daemon_settings.hpp: rotation_for).
  std::optional<std::uint64_t> log_max_size;        ///< bytes; 0: no size rotation
  std::optional<int> log_retain;                    ///< rotated files kept; 0: all
  std::optional<bool> log_compress;                 ///< gzip rotated files
  std::optional<std::string> log_rotate_interval;   ///< cron expression; "": none
  // Behaviour of later work, parsed and stored now.
  std::string cron_restart;
  bool watch = false;
  std::vector<std::string> watch_paths;   ///< watch: [paths]
  std::vector<std::string> ignore_watch;
  std::uint64_t watch_delay_ms = 0;
  std::uint64_t listen_timeout_ms = 3000;
  bool wait_ready = false;
  bool shutdown_with_message = false;
  // Health, order and limits (issue 22).
  HealthCheck health_check;               ///< none unless set
  /// Apps that must be online (and ready) before this one starts, and stop after it.
  std::vector<std::string> depends_on;
  // Observability.
  bool pmx = true;  ///< Node apps get the metrics preload (PM2's `pmx`, --no-pmx)
};

/// An option whose reading failed: its name (as written) and the message.
struct SpecError {
  std::string option;  ///< empty when the error is not about one option
  std::string message;
};

/// The canonical name of an app option or alias ("maxRestarts" -> "max_restarts"); empty
/// for unknown keys. env_<name> keys are known as themselves.
std::string canonical_option(const std::string& key);

/// Every canonical option name, for "did you mean" suggestions.
const std::vector<std::string>& option_names();

/// Options parsed and stored whose behaviour is not there yet, set in this spec
/// ("watch", "cron_restart", "exec_mode: cluster", ...).
std::vector<std::string> unsupported_options(const AppSpec& spec);

/// Serializes with PM2's option names (snake_case).
nlohmann::json to_json(const AppSpec& spec);

/// Reads a spec from JSON with PM2's option names and camelCase aliases. Fails with a message
/// naming the option and what was expected; unknown keys are ignored here (the file loaders
/// warn about them).
Result<AppSpec> spec_from_json(const nlohmann::json& j);

/// Same, telling which option failed (for file:line messages).
Result<AppSpec> spec_from_json(const nlohmann::json& j, SpecError& error);

/// The most instances an app may have (`instances`, `pmx scale`).
constexpr int kMaxInstances = 4096;

/// Instances for "max" / 0 / -N: CPUs, CPUs - N, at least 1.
int resolve_instances(long long requested, int cpus);

/// Checks the values that no type can express (positive counts, a signal name, a name).
Result<bool> validate(const AppSpec& spec);

/// Checks environment variables an app is given: names non-empty, without '=' or NUL; values
/// without NUL (execve would cut them there).
Result<bool> validate_env(const Env& env);

/// Largest base value of increment_var (its value in the app's env): the daemon adds the
/// instance index (< kMaxInstances) to it.
constexpr long long kMaxIncrementBase = 2147483647LL - kMaxInstances;

/// The signal number for "SIGINT", "INT", "2"; 0 when the name is unknown.
int signal_from_name(const std::string& name);

/// "SIGINT" for 2; "SIG<n>" for numbers without a name.
std::string signal_name(int signo);

/// Splits a string into words the way a shell would: whitespace separates, quotes group,
/// backslash escapes ("--port 80 --msg 'hi there'").
Result<std::vector<std::string>> split_shell_words(const std::string& text);

/// A command line given where a script goes (`pmx start "npm run start"`, `script: "node
/// server.js"` in a file), as PM2 takes one.
struct CommandString {
  /// What runs: the words themselves (signals then reach the program), or /bin/sh -c and the
  /// text when it needs a shell (pipes, $VARS, NAME=value prefixes, globs).
  std::vector<std::string> argv;
  std::string program;  ///< the program the command names (its first word after assignments)
};
/// The command of text, or why it is none (an unbalanced quote, no program in it).
Result<CommandString> command_string(const std::string& text);
/// The default name of a command line's app: the command as written, as PM2 names it (`npm run
/// start` and `npm start` are two apps), each word that is a path cut to its last part (a name
/// holds no '/': `node dist/main.js` is "node main.js").
std::string command_name(const std::string& text);
/// Whether text, naming no file, is to be read as a command line (it has blanks).
bool looks_like_command(const std::string& text);

/// Default app name of a script: its basename without the extension.
std::string default_name(const std::string& script);

}  // namespace pmx::config
