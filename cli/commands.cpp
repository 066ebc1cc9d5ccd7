// One function per verb. Each builds a request, calls pmxd, renders the answer.
#include "cli/commands.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/autostart.hpp"
#include "cli/ecosystem_file.hpp"
#include "cli/logs.hpp"
#include "cli/render.hpp"
#include "cli/startup.hpp"
#include "config/dump.hpp"
#include "config/app_spec.hpp"
#include "config/interpreter.hpp"
#include "config/log_format.hpp"
#include "config/paths.hpp"
#include "config/scale_count.hpp"
#include "config/suggest.hpp"
#include "config/units.hpp"
#include "ipc/client.hpp"
#include "ipc/version.hpp"

extern char** environ;

namespace pmx::cli {
namespace {

using json = nlohmann::json;

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 the operation failed or the daemon refused it (unknown app, invalid\n"
    "state, already launched), 2 usage or configuration error, 3 the daemon is unreachable\n"
    "or did not answer within --timeout.";

/// How long a verb that only reads or signals waits for pmxd's answer unless --timeout says
/// otherwise. Verbs that wait for apps (start, stop, restart, reload, delete, scale, kill) wait
/// without limit by default: pmxd answers them once the apps are stopped or started, which
/// can take each app's kill_timeout.
constexpr std::chrono::milliseconds kQuickVerbTimeout{10'000};

/// The methods whose answer waits for apps to stop or start.
bool waits_for_apps(const std::string& method) {
  for (const char* m : {"start", "stop", "restart", "reload", "delete", "scale", "kill", "resurrect"}) {
    if (method == m) return true;
  }
  return false;
}

/// A refusal by the daemon or a failure, with its exit code, printed by run().
struct Failure : std::runtime_error {
  Failure(int code, const std::string& what) : std::runtime_error(what), exit_code(code) {}
  int exit_code;
};

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

json caller_env() {
  json env = json::object();
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos && eq > 0) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

class Session {
 public:
  explicit Session(const Globals& g) : globals_(g), paths_(config::Paths::from_environment()) {}

  const config::Paths& paths() const { return paths_; }

  /// Calls a method, starting the daemon when needed; a refusal throws Failure(1).
  json call(const std::string& method, const json& params = json::object(), bool autostart = true) {
    if (!client_.connected()) connect(client_, paths_, autostart);
    client_.set_timeout(timeout_for(method));
    ipc::Response r = client_.call(method, params);
    if (r.error) fail(*r.error);
    return r.result.value_or(json());
  }

  /// Turns a daemon error into the exception that carries its exit code.
  [[noreturn]] static void fail(const ipc::RpcError& error) {
    const auto kind = error.data.value("kind", std::string());
    if (kind == "transport" || kind == "timeout") throw Unreachable(error.message);
    throw Failure(kind == "invalid_params" || kind == "too_large" ? kUsage : kFailed, error.message);
  }

  /// The result's JSON text as the daemon sent it (jlist prints it without re-encoding).
  std::string call_text(const std::string& method) {
    if (!client_.connected()) connect(client_, paths_, true);
    std::string text;
    client_.set_timeout(timeout_for(method));
    ipc::Response r = client_.call_raw(method, json::object(), text);
    if (r.error) fail(*r.error);
    return text.empty() ? r.result.value_or(json()).dump() : text;
  }

  Style style() const { return detect_style(globals_.no_color); }

  void print_list(const json& apps) {
    if (apps.empty()) {
      std::cout << "No app is managed by pmx yet: start one with `pmx start <script>`.\n";
      return;
    }
    std::cout << render_list(apps, style());
  }

  void show_list() { print_list(call("list")); }

 private:
  std::chrono::milliseconds timeout_for(const std::string& method) const {
    if (globals_.timeout) return *globals_.timeout;
    return waits_for_apps(method) ? std::chrono::milliseconds{0} : kQuickVerbTimeout;
  }

  const Globals& globals_;
  config::Paths paths_;
  ipc::Client client_;
};

json targets_of(const std::vector<std::string>& targets) {
  json t = json::array();
  for (const auto& s : targets) t.push_back(s);
  return t;
}

// Options whose behaviour is still to come are said so, never silently ignored.
void warn_unsupported(const config::AppSpec& app) {
  for (const auto& what : config::unsupported_options(app)) {
    std::cerr << "pmx: warning: app '" << app.name << "': " << what
              << " is not yet supported: it is stored, and has no effect yet\n";
  }
}

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

// An app that could not even run (exec failed, crashed at once) makes a failed start; a log
// file that cannot be written is warned about (the app runs).
int report_errored(const json& started) {
  int code = kOk;
  for (const auto& app : started) {
    const json& env = app["pm2_env"];
    if (const json log = env.value("log_error", json()); log.is_string()) {
      std::cerr << "pmx: warning: " << app.value("name", "?") << " (id " << app.value("pm_id", -1)
                << "): cannot write its log file " << log.get<std::string>()
                << "; its output is dropped (and counted) until it can be written\n";
    }
    if (env.value("status", "") != "errored") continue;
    const json why = env.value("exec_error", json());
    std::cerr << "pmx: " << app.value("name", "?") << " (id " << app.value("pm_id", -1) << ") errored: "
              << (why.is_string() ? why.get<std::string>() : env.value("status_reason", std::string("?"))) << "\n";
    code = kFailed;
  }
  return code;
}

int cmd_targets(Session& s, const std::string& method, const std::vector<std::string>& targets, json extra = {}) {
  json params = extra.is_object() ? extra : json::object();
  params["targets"] = targets_of(targets);
  params["cwd"] = config::current_directory();  // a target may be a script path: relative to here
  json result = s.call(method, params);
  if (method == "delete") {
    for (const auto& id : result.value("deleted", json::array())) std::cout << "deleted id " << id << "\n";
  }
  s.show_list();
  // A restarted app that could not run (exec failed, crashed at once) makes a failed restart.
  return method == "restart" || method == "reload" ? report_errored(result) : kOk;
}

/// Empties the targets' log files and names them; a file that could not be emptied fails it.
int cmd_flush(Session& s, const std::vector<std::string>& targets) {
  json r = s.call("flush", {{"targets", targets_of(targets)}, {"cwd", config::current_directory()}});
  for (const auto& path : r.value("flushed", json::array())) std::cout << "flushed " << path.get<std::string>() << "\n";
  int status = kOk;
  for (const auto& f : r.value("failed", json::array())) {
    std::cerr << "pmx: cannot flush " << f.value("path", "") << ": " << f.value("error", "") << "\n";
    status = kFailed;
  }
  return status;
}

int cmd_start(Session& s, const StartOptions& o) {
  const std::string& script = o.positional.front();
  const std::string base = o.cwd.empty() ? config::current_directory() : config::absolute_path(o.cwd, config::current_directory());
  std::string path = config::absolute_path(script, base);
  if (!config::is_regular_file(path)) path = config::find_in_path(script);
  if (path.empty() && script.find_first_of(" \t") != std::string::npos) {
    // No such file, but a command line. A plain one runs as its program and arguments, so
    // signals reach the program itself; one that needs a shell (pipes, $VARS, NAME=value
    // prefixes, globs) runs with /bin/sh -c, as PM2 runs every command string.
    StartOptions command = o;
    auto split = config::split_shell_words(script);
    if (!split) throw Failure(kUsage, "start: " + split.error());
    const std::vector<std::string>& words = *split;
    auto assignment = [](const std::string& w) {
      const auto eq = w.find('=');
      return eq != std::string::npos && eq > 0 && w.find('/') > eq;
    };
    const auto program = std::find_if_not(words.begin(), words.end(), assignment);
    if (program == words.end()) throw Failure(kUsage, "start: no program in the command '" + script + "'");
    if (command.name.empty()) command.name = config::default_name(*program);
    const bool shell = program != words.begin() || script.find_first_of("|&;<>()$`\\*?[]{}~") != std::string::npos;
    command.positional = shell ? std::vector<std::string>{"/bin/sh", "-c", script} : words;
    command.positional.insert(command.positional.end(), o.positional.begin() + 1, o.positional.end());
    return cmd_start(s, command);
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
      return cmd_targets(s, "restart", {script});
    }
    throw Failure(kUsage, "script not found: " + config::absolute_path(script, base) + " (nor an app of that name or id)");
  }
  json params{{"app", build_spec(o, path)}, {"env", caller_env()}, {"force", o.force}};
  json started = s.call("start", params);
  s.show_list();
  return report_errored(started);
}

/// `scale <app> <N|+N|-N>`: the table afterwards, or the daemon's "nothing to do"; an added
/// instance that could not run fails it, as at start.
int cmd_scale(Session& s, const std::string& name, const std::string& count) {
  // A count that can never work is a usage error, said without asking (or starting) pmxd.
  if (auto parsed = config::parse_scale_count(count); !parsed) {
    throw Failure(kUsage, "scale " + name + " " + count + ": " + parsed.error());
  }
  json result = s.call("scale", {{"name", name}, {"count", count}});
  if (const json message = result.value("message", json()); message.is_string()) {
    std::cout << message.get<std::string>() << "\n";
    return kOk;
  }
  s.show_list();
  const json added = result.value("added", json::array());
  json entries = json::array();
  for (const auto& app : result.value("apps", json::array())) {
    if (std::find(added.begin(), added.end(), app.value("pm_id", json())) != added.end()) entries.push_back(app);
  }
  return report_errored(entries);
}

int cmd_trigger(Session& s, const std::string& target, const std::string& action,
                const std::optional<std::string>& action_params) {
  json params = {{"targets", targets_of({target})}, {"cwd", config::current_directory()}, {"action", action}};
  if (action_params) params["params"] = *action_params;
  const json r = s.call("trigger", params);
  // One line per instance, name:id: what its action returned, or that it did not answer in time.
  auto instance = [](const json& e) { return e.value("name", "") + ":" + e.value("pm_id", json()).dump(); };
  for (const auto& e : r.value("replies", json::array())) std::cout << instance(e) << " " << e["return"].dump() << "\n";
  const json missing = r.value("no_reply", json::array());
  const std::string wait = r.value("wait_ms", json()).dump();
  for (const auto& e : missing) std::cerr << "pmx: " << instance(e) << " did not reply within " << wait << " ms\n";
  return missing.empty() ? kOk : kFailed;
}

int cmd_send_data(Session& s, const std::string& target, const std::string& text, const std::string& topic) {
  json data = json::parse(text, nullptr, false);
  if (data.is_discarded()) throw Failure(kUsage, "sendData: '" + text + "' is not JSON (quote a string: '\"text\"')");
  json params = {{"targets", targets_of({target})}, {"cwd", config::current_directory()}, {"data", data}};
  if (!topic.empty()) params["topic"] = topic;
  const json r = s.call("sendData", params);
  std::cout << "sent to " << r.value("ids", json::array()).size() << " instance(s)\n";
  return kOk;
}

int cmd_describe(Session& s, const std::vector<std::string>& targets) {
  json apps = s.call("describe", {{"targets", targets_of(targets)}, {"cwd", config::current_directory()}});
  for (const auto& app : apps) std::cout << render_describe(app, s.style()) << "\n";
  return kOk;
}

int cmd_env(Session& s, const std::string& target) {
  json apps = s.call("describe", {{"targets", json::array({target})}, {"cwd", config::current_directory()}});
  for (const auto& app : apps) {
    const json env = app["pm2_env"].value("env", json::object());
    for (const auto& [k, v] : env.items()) {
      std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    }
  }
  return kOk;
}

int cmd_pid(Session& s, const std::string& target) {
  json apps = target.empty() ? s.call("list")
                             : s.call("describe", {{"targets", json::array({target})}, {"cwd", config::current_directory()}});
  for (const auto& app : apps) {
    if (app.value("pid", 0) > 0) std::cout << app.value("pid", 0) << "\n";
  }
  return kOk;
}

int cmd_id(Session& s, const std::string& name) {
  json ids = json::array();
  for (const auto& app : s.call("list")) {
    if (app.value("name", "") == name) ids.push_back(app.value("pm_id", -1));
  }
  std::cout << ids.dump() << "\n";
  return kOk;
}

int cmd_kill(Session& s) {
  json pong;
  try {
    pong = s.call("ping", json::object(), false);
  } catch (const Unreachable&) {
    std::cout << "pmxd is not running\n";
    return kOk;
  }
  s.call("kill");
  // The daemon answered once every app was stopped; wait until it has let go of the home.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string proc = "/proc/" + std::to_string(pong.value("pid", 0));
  while (::access(proc.c_str(), F_OK) == 0) {
    if (std::chrono::steady_clock::now() > deadline) throw Failure(kFailed, "pmxd did not exit within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::cout << "pmxd stopped, every app with it\n";
  return kOk;
}

int cmd_save(Session& s, bool force) {
  json r = s.call("save", {{"force", force}});
  std::cout << "saved " << r.value("saved", 0) << " instance(s) to " << r.value("path", "") << "\n";
  if (r["backup"].is_string()) std::cout << "the previous dump is kept as " << r["backup"].get<std::string>() << "\n";
  return kOk;
}

/// The dump.pm2 that `pm2 save` wrote, in pmx's dump format. path: given, or $PM2_HOME's, or ~/.pm2's.
json read_pm2_dump(std::string path) {
  if (path.empty()) {
    const char* pm2_home = std::getenv("PM2_HOME");
    const char* home = std::getenv("HOME");
    path = pm2_home && *pm2_home ? std::string(pm2_home) + "/dump.pm2" : std::string(home ? home : "") + "/.pm2/dump.pm2";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(kUsage, "resurrect --from-pm2: cannot read " + path + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto saved = config::from_pm2_dump(text);
  if (!saved) throw Failure(kUsage, "resurrect --from-pm2: " + path + ": " + saved.error());
  return json{{"dump", json::parse(config::encode_dump(*saved, ""))}, {"source", path}};
}

int cmd_resurrect(Session& s, const std::optional<std::string>& from_pm2) {
  json params = from_pm2 ? read_pm2_dump(*from_pm2) : json::object();
  json r = s.call("resurrect", params);
  if (r["warning"].is_string()) std::cerr << "pmx: warning: " << r["warning"].get<std::string>() << "\n";
  std::cout << "restored " << r["apps"].size() << " instance(s) from " << r.value("source", "") << "\n";
  for (const auto& name : r["skipped"]) std::cout << "'" << name.get<std::string>() << "' is here already, left as it is\n";
  for (const auto& f : r["failed"]) {
    std::cerr << "pmx: app '" << f.value("name", "") << "' not restored: " << f.value("error", "") << "\n";
  }
  s.show_list();
  return r["failed"].empty() ? report_errored(r["apps"]) : kFailed;
}

/// pmx update: pmxd execs the pmxd pmx would start now (the one installed), keeping its pid
/// and its apps; done once the same pid answers from the new binary.
int cmd_update(Session& s, const Globals& globals) {
  json before;
  try {
    before = s.call("ping", json::object(), false);
  } catch (const Unreachable&) {
    std::cout << "pmxd is not running: the next pmx command starts the installed one\n";
    return kOk;
  }
  const std::string binary = config::real_path(daemon_binary());
  const int pid = before.value("pid", 0);
  s.call("update", {{"binary", binary}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    try {
      Session fresh(globals);
      json after = fresh.call("ping", json::object(), false);
      if (after.value("pid", 0) == pid && after.value("exe", "") == binary) {
        std::cout << "pmxd " << pid << " now runs " << binary << " (" << after.value("version", "") << "), "
                  << after.value("apps", 0) << " app instance(s) kept\n";
        return kOk;
      }
      if (after.value("pid", 0) != pid) throw Failure(kFailed, "another pmxd answers (pid " + std::to_string(after.value("pid", 0)) + ")");
    } catch (const Unreachable&) {
      // Between the exec and the new binary's socket.
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw Failure(kFailed, "pmxd " + std::to_string(pid) + " did not come back from " + binary + " within 15 s (see pmx.log)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// Options of the verbs that take an ecosystem file.
struct FileOptions {
  std::string only;  ///< --only a,b
  std::string env;   ///< --env production
  bool update_env = false;
  bool force = false;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

config::Ecosystem load_file(const std::string& arg, const FileOptions& fo) {
  auto eco = read_ecosystem(arg, config::LoadOptions{fo.env, split_commas(fo.only)});
  if (!eco) throw Failure(kUsage, eco.error());
  for (const auto& w : eco->warnings) std::cerr << "pmx: warning: " << w << "\n";
  for (const auto& app : eco->apps) warn_unsupported(app);
  return std::move(*eco);
}

// start | restart | reload | stop | delete | startOrRestart | startOrReload <file>
int cmd_file(Session& s, const std::string& verb, const std::string& arg, const FileOptions& fo) {
  const config::Ecosystem eco = load_file(arg, fo);
  std::set<std::string> registered;
  for (const auto& app : s.call("list")) registered.insert(app.value("name", ""));

  json to_start = json::array();
  json restart_names = json::array();
  json all_names = json::array();
  for (const auto& app : eco.apps) {
    all_names.push_back(app.name);
    const bool known = registered.count(app.name) > 0;
    if (verb == "start" || verb == "startOrRestart" || verb == "startOrReload") {
      // As PM2: starting a file again restarts its apps that pmx has (the usual deploy is
      // `git pull && pmx start ecosystem.config.js`); -f starts new copies instead.
      if (known && !(verb == "start" && fo.force)) restart_names.push_back(app.name);
      else to_start.push_back(config::to_json(app));
    } else if (verb == "restart" || verb == "reload") {
      restart_names.push_back(app.name);
    }
  }
  if (verb == "stop" || verb == "delete") {
    s.call(verb, {{"targets", all_names}});
  }
  json settled = json::array();  // the entries of every app restarted or started
  auto add = [&](const json& entries) {
    for (const auto& e : entries) settled.push_back(e);
  };
  if (!restart_names.empty()) {
    const char* restart_verb = verb == "reload" || verb == "startOrReload" ? "reload" : "restart";
    if (fo.update_env) {
      // Each app gets the caller's environment and its env from the file again.
      for (const auto& app : eco.apps) {
        if (std::find(restart_names.begin(), restart_names.end(), app.name) == restart_names.end()) continue;
        add(s.call(restart_verb, {{"targets", json::array({app.name})}, {"env", caller_env()}, {"app_env", app.env}}));
      }
    } else {
      add(s.call(restart_verb, {{"targets", restart_names}}));
    }
  }
  if (!to_start.empty()) add(s.call("start", {{"apps", to_start}, {"env", caller_env()}, {"force", fo.force}}));
  s.show_list();
  return report_errored(settled);
}

int cmd_ecosystem() {
  const std::string path = "ecosystem.yaml";
  if (config::is_regular_file(path)) throw Failure(kFailed, path + " already exists; not overwriting it");
  std::ofstream out(path);
  out << config::example_ecosystem_yaml();
  if (!out) throw Failure(kFailed, "cannot write " + path);
  std::cout << "wrote " << path << ": edit it, then `pmx start " << path << "`\n";
  return kOk;
}

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
  LogsOptions logs;
  CLI::Option* logs_timestamp = nullptr;  ///< --timestamp, given with or without a format
  std::string logs_stamp_format;
};

void define_logs(CLI::App& c, CommandLine& cl) {
  LogsOptions& lo = cl.logs;
  c.add_option("target", lo.target, "name, id, namespace or all (default all)");
  c.add_option("--lines", lo.lines, "lines of each file to show first (15; 0: only what comes next)")
      ->check(CLI::NonNegativeNumber);
  auto* err = c.add_flag("--err", lo.err_only, "only stderr");
  c.add_flag("--out", lo.out_only, "only stdout")->excludes(err);
  c.add_flag("--raw", lo.raw, "the bare lines, without the id|name prefix");
  c.add_flag("--json", lo.json, "one JSON object per line (message, timestamp, type, process_id, app_name)");
  c.add_flag("--nostream", lo.nostream, "print the last lines and exit");
  cl.logs_timestamp = c.add_option("--timestamp", cl.logs_stamp_format,
                                   "prefix each line with the time it was read (format: YYYY-MM-DDTHH:mm:ss)")
                          ->expected(0, 1);
  c.add_option("--highlight", lo.highlight, "show this word in inverse video (on a terminal)");
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

void define_targets(CLI::App& c, CommandLine& cl) {
  c.add_option("targets", cl.targets, "names, ids, namespaces, scripts or all")->required();
}

void define_file_flags(CLI::App& c, CommandLine& cl) {
  c.add_option("--only", cl.file.only, "with an ecosystem file: only these apps (a,b)");
  c.add_option("--env", cl.file.env, "with an ecosystem file: merge env_<name> over env");
}

void define_update_env(CLI::App& c, CommandLine& cl) {
  c.add_flag("--update-env", cl.update_env, "give the apps the current environment");
}

void define_one(CLI::App& c, CommandLine& cl, const char* name, const char* help, bool required) {
  auto* o = c.add_option(name, cl.one, help);
  if (required) o->required();
}

void define_startup(CLI::App& c, CommandLine& cl) {
  StartupOptions& o = cl.startup;
  c.add_option("platform", o.init_system, "the init system: systemd (the default and only one)");
  c.add_option("-u,--user", o.user, "the user pmxd runs as (default: you)");
  c.add_option("--hp", o.home_dir, "that user's home folder: PMX_HOME is <it>/.pmx");
  c.add_option("-n,--service-name", o.service_name, "the unit's name (default pmx-<user>)");
  c.add_option("--unit-dir", o.unit_dir, "where the unit goes (default /etc/systemd/system)");
  c.add_flag("--dry-run", o.dry_run, "print the unit and the commands, change nothing");
}

/// One verb of the command line; `define` adds its options and arguments.
struct Verb {
  const char* name;
  const char* help;
  std::array<const char*, 4> aliases;
  void (*define)(CLI::App&, CommandLine&);
};

/// Every verb, in the order `pmx --help` lists them.
const Verb kVerbs[] = {
    {"start", "start a script or binary, or restart an app by name or id", {},
     [](CLI::App& c, CommandLine& cl) { define_start(c, cl), define_update_env(c, cl), define_file_flags(c, cl); }},
    {"stop", "stop apps", {},
     [](CLI::App& c, CommandLine& cl) {
       define_targets(c, cl), define_file_flags(c, cl);
       c.add_flag("--watch", cl.watch, "also stop watching their files");
     }},
    {"restart", "restart apps (start them if stopped)", {},
     [](CLI::App& c, CommandLine& cl) {
       define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl);
       c.add_flag("--watch", cl.watch, "turn watching their files on or off");
     }},
    {"reload", "restart apps; cluster-mode instances one at a time, each ready before the next", {},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl); }},
    {"startOrRestart", "start an ecosystem file's missing apps, restart the others", {},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl); }},
    {"startOrReload", "as startOrRestart", {},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl); }},
    {"delete", "stop and forget apps", {"del"},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_file_flags(c, cl); }},
    {"scale", "set (N), add (+N) or remove (-N) instances of an app", {},
     [](CLI::App& c, CommandLine& cl) {
       define_one(c, cl, "app", "app name", true);
       c.add_option("count", cl.count, "N: the total, +N: instances to add, -N: instances to remove")->required();
     }},
    {"ecosystem", "write a commented ecosystem.yaml example here", {"init"}, [](CLI::App&, CommandLine&) {}},
    {"reset", "zero the restart counters", {}, define_targets},
    {"describe", "show everything about apps", {"desc", "info", "show"}, define_targets},
    {"list", "list apps", {"ls", "l", "ps", "status"}, [](CLI::App&, CommandLine&) {}},
    {"jlist", "list apps as JSON (PM2's shape)", {}, [](CLI::App&, CommandLine&) {}},
    {"prettylist", "list apps as indented JSON", {}, [](CLI::App&, CommandLine&) {}},
    {"env", "print the environment an app was given", {},
     [](CLI::App& c, CommandLine& cl) { define_one(c, cl, "id", "app id or name", true); }},
    {"pid", "print the pid of apps (all when no name)", {},
     [](CLI::App& c, CommandLine& cl) { define_one(c, cl, "name", "app name or id", false); }},
    {"id", "print the ids of an app name", {},
     [](CLI::App& c, CommandLine& cl) { define_one(c, cl, "name", "app name", true); }},
    {"flush", "empty the log files of apps (all when no target)", {},
     [](CLI::App& c, CommandLine& cl) { c.add_option("targets", cl.targets, "names, ids, namespaces or all"); }},
    {"reloadLogs", "reopen every log file (after an external logrotate moved them) and read pmx.yaml again", {},
     [](CLI::App&, CommandLine&) {}},
    {"logs", "show the apps' last log lines, then their output as it comes", {}, define_logs},
    {"ping", "check that pmxd answers (starting it if needed)", {}, [](CLI::App&, CommandLine&) {}},
    {"kill", "stop every app and the daemon", {}, [](CLI::App&, CommandLine&) {}},
    {"trigger", "run an action the app registered (@pm2/io io.action) and print its replies", {},
     [](CLI::App& c, CommandLine& cl) {
       define_one(c, cl, "target", "name, id, namespace or all", true);
       c.add_option("action", cl.action, "the action's name")->required();
       c.add_option("params", cl.action_params, "given to the action");
     }},
    {"sendData", "send a JSON value to Node apps as a process:msg packet (process.on('message'))", {"send-data"},
     [](CLI::App& c, CommandLine& cl) {
       define_one(c, cl, "target", "name, id, namespace or all", true);
       c.add_option("data", cl.data, "a JSON value ('{\"a\":1}', '\"text\"', 42)")->required();
       c.add_option("--topic", cl.topic, "the packet's topic (default: true)");
     }},
    {"save", "save the app list to $PMX_HOME/dump.pmx, for resurrect and the startup unit", {"dump"},
     [](CLI::App& c, CommandLine& cl) { c.add_flag("-f,--force", cl.force, "save even an empty list over a non-empty dump"); }},
    {"resurrect", "start the apps of the last save (those not running)", {},
     [](CLI::App& c, CommandLine& cl) {
       c.add_option("--from-pm2", cl.from_pm2, "import the dump of `pm2 save` (default $PM2_HOME/dump.pm2 or ~/.pm2/dump.pm2)")
           ->expected(0, 1);
     }},
    {"cleardump", "empty the saved app list (the old one is kept as dump.pmx.bak)", {}, [](CLI::App&, CommandLine&) {}},
    {"startup", "start pmxd at boot with the saved apps: write and enable a systemd unit", {},
     [](CLI::App& c, CommandLine& cl) { define_startup(c, cl); }},
    {"unstartup", "disable and remove the unit of pmx startup", {}, [](CLI::App& c, CommandLine& cl) { define_startup(c, cl); }},
    {"update", "replace the running pmxd with the installed one: same pid, apps untouched", {}, [](CLI::App&, CommandLine&) {}},
    {"signal", "send a signal to apps", {"sendSignal"},
     [](CLI::App& c, CommandLine& cl) {
       c.add_option("signal", cl.signal_name, "signal name or number (SIGUSR2, 12)")->required();
       define_targets(c, cl);
     }},
};

bool names(const Verb& v, std::string_view word) {
  if (word == v.name) return true;
  return std::any_of(v.aliases.begin(), v.aliases.end(), [&](const char* a) { return a && word == a; });
}

/// The first word of the command line that is not an option (nor --timeout's value), if any.
std::optional<std::string> first_word(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--timeout") {
      ++i;
      continue;
    }
    if (!words[i].starts_with("-")) return words[i];
  }
  return std::nullopt;
}

/// The verb a command line names; null when there is none or it is no verb.
const Verb* named_verb(const std::vector<std::string>& words) {
  const auto word = first_word(words);
  if (!word) return nullptr;
  for (const auto& v : kVerbs) {
    if (names(v, *word)) return &v;
  }
  return nullptr;
}

/// PM2's verbs that pmx does not have yet: named as such rather than as typos.
constexpr const char* kPm2VerbsToCome[] = {
    "monit", "dash", "dashboard", "install", "uninstall", "set", "get", "conf", "config",
    "link", "unlink", "plus", "report", "deploy", "serve", "attach", "inspect", "module:install",
    "pull", "forward", "backward", "sendLineToStdin", "completion", "examples"};

/// "unknown command 'x'", with the verbs it may have meant or what PM2 verb it is.
std::string unknown_verb_message(const std::string& word) {
  std::string message = "pmx: unknown command '" + word + "'";
  if (std::find(std::begin(kPm2VerbsToCome), std::end(kPm2VerbsToCome), word) != std::end(kPm2VerbsToCome)) {
    return message + ": PM2 has it, pmx does not have it yet (docs/cli.md lists what pmx has)";
  }
  std::vector<std::string> verbs;
  for (const auto& v : kVerbs) {
    verbs.push_back(v.name);
    for (const char* a : v.aliases) {
      if (a) verbs.push_back(a);
    }
  }
  const auto near = config::closest(word, verbs);
  if (!near.empty()) {
    message += "; did you mean";
    for (std::size_t i = 0; i < near.size() && i < 3; ++i) message += std::string(i ? "," : "") + " '" + near[i] + "'";
    message += "?";
  }
  return message + " (pmx --help lists the commands)";
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"pmx: a process manager for Linux servers (PM2's verbs, native daemon)", "pmx"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  CommandLine cl;
  // Global options are accepted after the verb too (pmx ping --timeout 1s).
  app.fallthrough();
  app.add_flag("--no-color", cl.globals.no_color, "no ANSI colours (also NO_COLOR)");
  app.add_option("--timeout", cl.timeout_text,
                 "longest wait for pmxd's answer (5s, 500ms, 0 for none; default 10s, and no limit for "
                 "verbs that wait for apps: start, stop, restart, reload, delete, scale, kill); exit 3 when it passes");
  app.set_version_flag("-v,--version", "pmx " + ipc::version_line());

  // Everything after "--" belongs to the app: split it off before CLI11 sees it.
  std::vector<std::string> words(argv + 1, argv + argc);
  std::vector<std::string> app_args;
  if (auto dashes = std::find(words.begin(), words.end(), "--"); dashes != words.end()) {
    app_args.assign(dashes + 1, words.end());
    words.erase(dashes, words.end());
  }
  // Only the verb given gets its subcommand built: constructing all of them (start alone has
  // some fifty options) cost more than the rest of a `pmx jlist`. Without a known verb (help,
  // a typo) every verb is built, so help and errors read as before.
  if (first_word(words) == "help") words = {"--help"};  // pm2 help
  const Verb* given = named_verb(words);
  if (auto word = first_word(words); word && !given) {
    std::cerr << unknown_verb_message(*word) << "\n";
    return kUsage;
  }
  for (const auto& v : kVerbs) {
    if (given && given != &v) continue;
    auto* c = app.add_subcommand(v.name, v.help);
    for (const char* alias : v.aliases) {
      if (alias) c->alias(alias);
    }
    v.define(*c, cl);
  }
  std::reverse(words.begin(), words.end());  // CLI11 takes a reversed vector
  try {
    app.parse(words);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  const std::string verb = app.get_subcommands().front()->get_name();

  if (!cl.timeout_text.empty()) {
    auto t = config::parse_duration_ms(cl.timeout_text);
    if (!t) {
      std::cerr << "pmx: --timeout: " << t.error() << "\n";
      return kUsage;
    }
    cl.globals.timeout = std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*t));
  }
  Session s(cl.globals);
  StartOptions& so = cl.start;
  FileOptions& fo = cl.file;
  const auto& targets = cl.targets;
  try {
    fo.update_env = cl.update_env;
    if (verb == "start") {
      if (so.positional.empty()) {
        std::string file = default_ecosystem_file();
        if (file.empty()) throw Failure(kUsage, "start needs a script, a binary or an ecosystem file (none found here)");
        so.positional.push_back(file);
      }
      if (so.positional.size() > 1) throw Failure(kUsage, "start takes one script; put its arguments after --");
      if (is_ecosystem_file(so.positional.front()) && app_args.empty()) {
        fo.force = so.force;
        return cmd_file(s, "start", so.positional.front(), fo);
      }
      so.positional.insert(so.positional.end(), app_args.begin(), app_args.end());
      return cmd_start(s, so);
    }
    if (verb == "ecosystem") return cmd_ecosystem();
    // A verb given one ecosystem file acts on the file's apps.
    const bool on_file = targets.size() == 1 && is_ecosystem_file(targets.front());
    for (const char* v : {"stop", "restart", "reload", "delete", "startOrRestart", "startOrReload"}) {
      if (verb == v && on_file) return cmd_file(s, verb, targets.front(), fo);
    }
    if ((verb == "startOrRestart" || verb == "startOrReload") && !on_file) {
      throw Failure(kUsage, "startOrRestart and startOrReload take an ecosystem file");
    }
    if (verb == "reload") {
      json extra = json::object();
      if (cl.update_env) extra["env"] = caller_env();
      return cmd_targets(s, "reload", targets, extra);
    }
    if (!app_args.empty()) throw Failure(kUsage, "arguments after -- are only for start");
    if (verb == "stop") return cmd_targets(s, "stop", targets, cl.watch ? json{{"watch", false}} : json::object());
    if (verb == "restart") {
      json extra = json::object();
      if (cl.update_env) extra["env"] = caller_env();
      if (cl.watch) extra["watch"] = "toggle";  // as PM2: restart --watch turns watching on or off
      return cmd_targets(s, "restart", targets, extra);
    }
    if (verb == "delete") return cmd_targets(s, "delete", targets);
    if (verb == "reset") return cmd_targets(s, "reset", targets);
    if (verb == "describe") return cmd_describe(s, targets);
    if (verb == "list") return s.show_list(), kOk;
    if (verb == "jlist") return std::cout << s.call_text("list") << "\n", kOk;
    if (verb == "prettylist") return std::cout << s.call("list").dump(2) << "\n", kOk;
    if (verb == "env") return cmd_env(s, cl.one);
    if (verb == "pid") return cmd_pid(s, cl.one);
    if (verb == "id") return cmd_id(s, cl.one);
    if (verb == "scale") return cmd_scale(s, cl.one, cl.count);
    if (verb == "logs") {
      if (cl.logs_timestamp->count() > 0) {
        cl.logs.timestamp = cl.logs_stamp_format;
        if (!cl.logs_stamp_format.empty()) {
          if (auto checked = config::DateFormat::compile(cl.logs_stamp_format); !checked) {
            throw Failure(kUsage, "logs --timestamp: " + checked.error());
          }
        }
      }
      cl.logs.color = s.style().color;
      return run_logs(s.paths(), cl.logs, cl.globals.timeout);
    }
    if (verb == "ping") return std::cout << s.call("ping").dump() << "\n", kOk;
    if (verb == "kill") return cmd_kill(s);
    if (verb == "save") return cmd_save(s, cl.force);
    if (verb == "resurrect") return cmd_resurrect(s, cl.from_pm2);
    if (verb == "cleardump") {
      json r = s.call("cleardump");
      std::cout << "emptied " << r.value("path", "") << "\n";
      return kOk;
    }
    if (verb == "update") return cmd_update(s, cl.globals);
    if (verb == "startup") return run_startup(cl.startup);
    if (verb == "unstartup") return run_unstartup(cl.startup);
    if (verb == "flush") return cmd_flush(s, targets.empty() ? std::vector<std::string>{"all"} : targets);
    if (verb == "reloadLogs") {
      json r = s.call("reloadLogs");
      std::cout << "reopened " << r.value("reopened", 0) << " log file(s)\n";
      // pmx.yaml is read again too: a mistake in it is named, and the settings in use stay.
      if (const auto& error = r.value("settings_error", json()); error.is_string()) {
        std::cerr << "pmx: " << error.get<std::string>() << "\n";
        return kFailed;
      }
      return kOk;
    }
    if (verb == "trigger") return cmd_trigger(s, cl.one, cl.action, cl.action_params);
    if (verb == "sendData") return cmd_send_data(s, cl.one, cl.data, cl.topic);
    if (verb == "signal") {
      json r = s.call("signal", {{"signal", cl.signal_name}, {"targets", targets_of(targets)}, {"cwd", config::current_directory()}});
      std::cout << "sent " << r.value("signal", "") << " to " << r["ids"].size() << " app(s)\n";
      return kOk;
    }
  } catch (const Unreachable& e) {
    std::cerr << "pmx: " << e.what() << "\n";
    return kUnreachable;
  } catch (const Failure& e) {
    std::cerr << "pmx: " << e.what() << "\n";
    return e.exit_code;
  }
  return kUsage;
}

}  // namespace pmx::cli
