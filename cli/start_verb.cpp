// `pmx start`: its options (PM2's flags), the spec built from them with PM2's defaults and
// checked before anything is sent, and what a script argument can be.
#include "cli/start_verb.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/ecosystem_file.hpp"
#include "cli/file_verbs.hpp"
#include "config/interpreter.hpp"
#include "config/paths.hpp"

namespace pmx::cli {

namespace {

/// The flags of the options not spelled out above: flag names -> PM2 option name.
struct OptionFlag {
  const char* flags;
  const char* option;
  const char* help;
};
constexpr OptionFlag kValueFlags[] = {
    {"--cron-restart,--cron", "cron_restart", "restart on a cron schedule (5 or 6 fields, or @hourly, @daily...)"},
    {"--ignore-watch", "ignore_watch", "paths the watch ignores (names, globs, regular expressions)"},
    {"--watch-delay", "watch_delay", "quiet time after a burst of changes before the restart (1000 ms)"},
    {"-l,--log", "log_file", "combined log file: stdout and stderr of every instance"},
    {"--log-date-format", "log_date_format", "prefix each log line with a time stamp in this format (YYYY-MM-DD HH:mm:ss Z)"},
    {"--log-type", "log_type", "json: one JSON object per log line (message, timestamp, type, process_id, app_name)"},
    {"--port", "port", "sets PORT; in cluster mode pmx binds it once and hands it to every instance"},
    {"--listen", "listen", "cluster mode: sockets pmx binds and hands to every instance as fds 3.. (3000, "
                           "127.0.0.1:3000, [::1]:3000, unix:/run/app.sock; several: space-separated)"},
    {"--filter-env", "filter_env", "drop caller variables with these prefixes"},
    {"--instance-var", "instance_var", "variable of the instance index (NODE_APP_INSTANCE)"},
    {"--increment-var", "increment_var", "variable incremented per instance"},
    {"--uid,--user", "uid", "run as this user (pmxd as root)"},
    {"--gid", "gid", "run with this group (pmxd as root)"},
    {"--listen-timeout", "listen_timeout", "how long a start waits for the app to be ready (3000 ms)"},
    {"--exec-mode", "exec_mode", "fork or cluster (default: cluster with -i for a Node app, or with --port/--listen)"},
    {"--log-max-size", "log_max_size", "rotate a log file above this size (10M; 0: never; default from pmx.yaml)"},
    {"--log-retain", "log_retain", "rotated files kept per log file (30; 0: all)"},
    {"--log-rotate-interval", "log_rotate_interval", "also rotate logs on this cron schedule ('0 0 * * *': daily)"},
};
constexpr OptionFlag kSwitchFlags[] = {
    {"--watch", "watch", "restart on file changes in the cwd (or watch paths)"},
    {"--merge-logs,--combine-logs", "merge_logs", "one log file for every instance"},
    {"--time", "time", "prefix each log line with an ISO 8601 time stamp"},
    {"--disable-logs", "disable_logs", "send the output to /dev/null"},
    {"--wait-ready", "wait_ready", "online only once the app says ready: process.send('ready') or sd_notify READY=1"},
    {"--shutdown-with-message", "shutdown_with_message", "Node apps: stop with process.send('shutdown'), not kill_signal"},
    {"--log-compress", "log_compress", "gzip rotated log files"},
    {"--reuse-port", "reuse_port", "cluster mode: each instance binds its port itself with SO_REUSEPORT"},
};

// Builds the spec sent to the daemon from the command line, with PM2's defaults.
json build_spec(const StartOptions& o, const std::string& script_path) {
  json app = json::object();
  const std::string& script = o.positional.front();
  app["script"] = script_path;
  app["name"] = o.name.empty() ? config::default_name(script) : o.name;
  app["args"] = std::vector<std::string>(o.positional.begin() + 1, o.positional.end());
  if (!o.interpreter.empty()) app["interpreter"] = o.interpreter;
  else app["interpreter"] = config::choose_interpreter(script_path);
  if (!o.interpreter_args.empty()) app["interpreter_args"] = o.interpreter_args;
  app["cwd"] = o.cwd.empty() ? config::current_directory() : config::absolute_path(o.cwd, config::current_directory());
  if (!o.namespace_.empty()) app["namespace"] = o.namespace_;
  if (o.no_autorestart) app["autorestart"] = false;
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) app[key] = v;
  };
  put("max_restarts", o.max_restarts);
  put("min_uptime", o.min_uptime);
  put("restart_delay", o.restart_delay);
  put("exp_backoff_restart_delay", o.exp_backoff);
  put("exp_backoff_restart_delay_max", o.exp_backoff_max);
  put("kill_timeout", o.kill_timeout);
  put("kill_signal", o.kill_signal);
  put("max_memory_restart", o.max_memory_restart);
  put("instances", o.instances);
  for (const auto& [key, value] : o.values) put(key.c_str(), value);
  for (const auto& [key, on] : o.switches) {
    if (on) app[key] = true;
  }
  if (o.no_autostart) app["autostart"] = false;
  const std::string cwd = app["cwd"];
  if (!o.out_file.empty()) app["out_file"] = config::absolute_path(o.out_file, cwd);
  if (!o.error_file.empty()) app["error_file"] = config::absolute_path(o.error_file, cwd);
  if (!o.pid_file.empty()) app["pid_file"] = config::absolute_path(o.pid_file, cwd);
  if (auto log = o.values.find("log_file"); log != o.values.end() && !log->second.empty() && log->second != "true") {
    app["log_file"] = config::absolute_path(log->second, cwd);
  }
  if (!o.stop_exit_codes.empty()) {
    json codes = json::array();
    for (const auto& c : o.stop_exit_codes) {
      char* end = nullptr;
      long v = std::strtol(c.c_str(), &end, 10);
      if (c.empty() || *end != '\0') throw Failure(kUsage, "--stop-exit-codes: '" + c + "' is not an exit code");
      codes.push_back(v);
    }
    app["stop_exit_codes"] = codes;
  }
  // Validate here too, so the user sees the option's name before anything is sent.
  auto checked = config::spec_from_json(app);
  if (!checked) throw Failure(kUsage, checked.error());
  warn_unsupported(*checked);
  return app;
}

}  // namespace

// Options whose behaviour is still to come are said so, never silently ignored.
void warn_unsupported(const config::AppSpec& app) {
  for (const auto& what : config::unsupported_options(app)) {
    std::cerr << "pmx: warning: app '" << app.name << "': " << what
              << " is not yet supported: it is stored, and has no effect yet\n";
  }
}

void define_start(CLI::App& c, CommandLine& cl) {
  StartOptions& so = cl.start;
  c.add_option("script", so.positional,
               "script, binary or ecosystem file (default: ecosystem.config.js here), then its arguments after --");
  c.add_option("-n,--name", so.name, "app name (default: script name without extension)");
  c.add_option("--namespace", so.namespace_, "namespace (default: default)");
  c.add_option("--cwd", so.cwd, "working directory (default: the current one)");
  c.add_option("--interpreter", so.interpreter, "interpreter (default by extension; none for binaries)");
  c.add_option("--interpreter-args,--node-args", so.interpreter_args, "arguments for the interpreter");
  c.add_option("-i,--instances", so.instances, "number of instances");
  c.add_flag("-f,--force", so.force, "start even if the script is already launched");
  c.add_flag("--no-autorestart", so.no_autorestart, "do not restart the app when it exits");
  c.add_option("--max-restarts", so.max_restarts, "unstable restarts in a row before errored (16)");
  c.add_option("--min-uptime", so.min_uptime, "a run shorter than this is unstable (1000 ms)");
  c.add_option("--restart-delay", so.restart_delay, "delay before an automatic restart (0)");
  c.add_option("--exp-backoff-restart-delay", so.exp_backoff, "first delay of an exponential backoff");
  c.add_option("--exp-backoff-restart-delay-max", so.exp_backoff_max, "cap of the backoff (15 s)");
  c.add_option("--stop-exit-codes", so.stop_exit_codes, "exit codes that are not restarted");
  c.add_option("--kill-timeout", so.kill_timeout, "time between the stop signal and SIGKILL (1600 ms)");
  c.add_option("--kill-signal", so.kill_signal, "stop signal (SIGINT)");
  c.add_option("--max-memory-restart", so.max_memory_restart, "restart above this RSS of the tree (150M, 1G)");
  c.add_option("-o,--output", so.out_file, "stdout log file");
  c.add_option("-e,--error", so.error_file, "stderr log file");
  c.add_option("-p,--pid", so.pid_file, "pid file");
  for (const auto& f : kValueFlags) {
    auto* option = c.add_option(f.flags, so.values[f.option], f.help);
    // `-l` alone, as in PM2: the combined log in the logs folder (<name>.log).
    if (std::string_view(f.option) == "log_file") option->expected(0, 1)->default_str("true");
  }
  for (const auto& f : kSwitchFlags) c.add_flag(f.flags, so.switches[f.option], f.help);
  c.add_flag("--no-autostart", so.no_autostart, "register the app stopped");
}

int start_script(DaemonConnection& s, const StartOptions& o) {
  const std::string& script = o.positional.front();
  const std::string base = o.cwd.empty() ? config::current_directory() : config::absolute_path(o.cwd, config::current_directory());
  std::string path = config::absolute_path(script, base);
  if (!config::is_regular_file(path)) path = config::find_in_path(script);
  if (path.empty() && config::looks_like_command(script)) {
    // No such file, but a command line (config::command_string).
    auto parsed = config::command_string(script);
    if (!parsed) throw Failure(kUsage, "start: " + parsed.error());
    StartOptions command = o;
    if (command.name.empty()) command.name = config::command_name(script);
    command.positional = parsed->argv;
    command.positional.insert(command.positional.end(), o.positional.begin() + 1, o.positional.end());
    return start_script(s, command);
  }
  if (path.empty()) {
    // `pmx start <name|id>` of an app pmx already has restarts it, as in PM2.
    json apps = s.call("list");
    bool known = false;
    for (const auto& app : apps) {
      known = known || app.value("name", "") == script || std::to_string(app.value("pm_id", -1)) == script ||
              app["pm2_env"].value("namespace", "") == script;
    }
    if (known || script == "all") {
      return call_on_targets(s, "restart", {script});
    }
    throw Failure(kUsage, "script not found: " + config::absolute_path(script, base) + " (nor an app of that name or id)");
  }
  json params{{"app", build_spec(o, path)}, {"env", caller_env()}, {"force", o.force}};
  json started = s.call("start", params);
  s.show_list();
  return report_errored(started);
}

int run_start(Invocation& inv) {
  StartOptions& so = inv.cl.start;
  FileOptions& fo = inv.cl.file;
  if (so.positional.empty()) {
    std::string file = default_ecosystem_file();
    if (file.empty()) throw Failure(kUsage, "start needs a script, a binary or an ecosystem file (none found here)");
    so.positional.push_back(file);
  }
  if (so.positional.size() > 1) throw Failure(kUsage, "start takes one script; put its arguments after --");
  if (is_ecosystem_file(so.positional.front()) && inv.app_args.empty()) {
    fo.force = so.force;
    return run_on_file(inv.daemon, "start", so.positional.front(), fo);
  }
  so.positional.insert(so.positional.end(), inv.app_args.begin(), inv.app_args.end());
  return start_script(inv.daemon, so);
}

}  // namespace pmx::cli
