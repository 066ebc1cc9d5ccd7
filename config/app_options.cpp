// The table of app options (config/app_options.hpp) and what is generated from it: reading an
// option into AppSpec, its value in to_json, and pm2_env's option fields.
#include "config/app_options.hpp"

#include "config/health_check.hpp"
#include "config/cpu_quota.hpp"

#include <algorithm>
#include <map>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "config/listen_address.hpp"
#include "config/option_reader.hpp"

namespace pmx::config {
namespace {

using json = nlohmann::json;
using OptK = OptionKind;
using OptF = CliForm;
using OptG = DescribeGroup;
using OptJ = JlistForm;

// The options read by hand: a value that means something else ("none", 0, true), or a field
// that is two members.

void read_interpreter(OptionReader& r, AppSpec& s) {
  r.string("interpreter", s.interpreter);
  if (s.interpreter == "none") s.interpreter.clear();
}
json interpreter_value(const AppSpec& s) { return s.interpreter.empty() ? "none" : s.interpreter; }

void read_exec_mode(OptionReader& r, AppSpec& s) {
  r.choice("exec_mode", s.exec_mode, {"fork", "cluster", "fork_mode", "cluster_mode"});
  if (s.exec_mode.size() > 5 && s.exec_mode.ends_with("_mode")) s.exec_mode.resize(s.exec_mode.size() - 5);
}
json exec_mode_jlist(const AppSpec& s) { return exec_mode_name(s); }

void read_filter_env(OptionReader& r, AppSpec& s) { r.bool_or_words("filter_env", s.filter_env_all, s.filter_env); }
json filter_env_value(const AppSpec& s) { return s.filter_env_all ? json(true) : json(s.filter_env); }

void read_cron_restart(OptionReader& r, AppSpec& s) {
  if (const json* cron = r.find("cron_restart")) {
    // 0 or "0" disables it, as in PM2.
    if (!(cron->is_number_integer() && cron->get<long long>() == 0) && *cron != "0") r.string("cron_restart", s.cron_restart);
  }
}

void read_watch(OptionReader& r, AppSpec& s) {
  if (const json* w = r.find("watch")) {
    if (w->is_boolean()) s.watch = w->get<bool>();
    else {
      r.words("watch", s.watch_paths);
      s.watch = !s.watch_paths.empty();
    }
  }
}
json watch_value(const AppSpec& s) { return s.watch_paths.empty() ? json(s.watch) : json(s.watch_paths); }

void read_log_file(OptionReader& r, AppSpec& s) {
  if (const json* log = r.find("log_file"); log && log->is_boolean()) {
    s.log_file = log->get<bool>() ? "true" : "";  // true: the default combined log
  } else {
    r.string("log_file", s.log_file);
  }
}

void read_log_rotate_interval(OptionReader& r, AppSpec& s) {
  if (const json* interval = r.find("log_rotate_interval")) {
    // 0 or "0" is no interval, as for cron_restart; "" too.
    if ((interval->is_number_integer() && interval->get<long long>() == 0) || *interval == "0") {
      s.log_rotate_interval = "";
    } else if (interval->is_string()) {
      s.log_rotate_interval = interval->get<std::string>();
    } else {
      r.fail("log_rotate_interval", "a cron expression (\"0 0 * * *\", @daily)");
    }
  }
}

void read_health_check(OptionReader& r, AppSpec& s) {
  if (const json* v = r.find("health_check")) {
    auto check = health_check_from_json(*v);
    if (check) s.health_check = *check;
    else r.fail_msg("health_check", check.error());
  }
}
json health_check_value(const AppSpec& s) { return health_check_to_json(s.health_check); }

void read_cpu_quota(OptionReader& r, AppSpec& s) {
  if (const json* v = r.find("cpu_quota")) {
    auto quota = v->is_string() ? parse_cpu_quota(v->get<std::string>()) : parse_cpu_quota("");
    if (quota) s.cpu_quota = *quota;
    else r.fail_msg("cpu_quota", quota.error());
  }
}
json cpu_quota_value(const AppSpec& s) { return s.cpu_quota > 0 ? json(format_cpu_quota(s.cpu_quota)) : json(); }
// depends_on: a name, a list of names, or names separated by commas (`--depends-on db,queue`).
void read_depends_on(OptionReader& r, AppSpec& s) {
  const json* v = r.find("depends_on");
  if (!v) return;
  std::vector<std::string> given;
  if (v->is_string()) given.push_back(v->get<std::string>());
  else if (v->is_array()) {
    for (const auto& item : *v) {
      if (!item.is_string()) return r.fail("depends_on", "an app name or a list of app names");
      given.push_back(item.get<std::string>());
    }
  } else {
    return r.fail("depends_on", "an app name or a list of app names");
  }
  std::vector<std::string> names;
  for (const auto& text : given) {
    std::string name;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      const char c = i < text.size() ? text[i] : ',';
      if (c == ',' || c == ' ' || c == '\t') {
        if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        name.clear();
      } else {
        name += c;
      }
    }
  }
  s.depends_on = std::move(names);
}

template <class... Fs>
struct OptionVisitor : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
OptionVisitor(Fs...) -> OptionVisitor<Fs...>;

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

}  // namespace

const std::vector<AppOption>& app_options() {
  // clang-format off
  static const std::vector<AppOption> table = {
    {.name = "name", .aliases = {}, .kind = OptK::String, .field = &AppSpec::name,
     .cli = {"-n,--name", "app name (default: script name without extension)", OptF::Value},
     .describe = {"name", OptG::Identity, "?"}, .jlist_keys = {"name"}, .jlist = OptJ::Value},
    {.name = "script", .aliases = {"exec", "cmd", "command"}, .kind = OptK::Path, .field = &AppSpec::script,
     .cli = {"script", "script, binary or ecosystem file (default: ecosystem.config.js here), then its arguments after --", OptF::Positional},
     .describe = {"script path", OptG::Run}, .jlist_keys = {"pm_exec_path"}, .jlist = OptJ::Value},
    {.name = "args", .aliases = {}, .kind = OptK::Words, .field = &AppSpec::args,
     .cli = {nullptr, nullptr, OptF::AfterDashes},
     .describe = {"script args", OptG::Run, "[]"}, .jlist_keys = {"args"}, .jlist = OptJ::Value},
    {.name = "interpreter", .aliases = {"exec_interpreter", "execInterpreter"}, .kind = OptK::String,
     .read = read_interpreter, .value = interpreter_value,
     .cli = {"--interpreter", "interpreter (default by extension; none for binaries)", OptF::Value},
     .describe = {"interpreter", OptG::Run, "none"}, .jlist_keys = {"exec_interpreter"}, .jlist = OptJ::Value},
    {.name = "interpreter_args", .aliases = {"node_args", "interpreterArgs", "nodeArgs"}, .kind = OptK::Words,
     .field = &AppSpec::interpreter_args,
     .cli = {"--interpreter-args,--node-args", "arguments for the interpreter", OptF::Value},
     .describe = {"interpreter args", OptG::Run, "[]"}, .jlist_keys = {"interpreter_args", "node_args"}, .jlist = OptJ::Value},
    {.name = "cwd", .aliases = {}, .kind = OptK::Path, .field = &AppSpec::cwd,
     .cli = {"--cwd", "working directory (default: the current one)", OptF::Value, CliPath::AgainstCurrentDir},
     .describe = {"exec cwd", OptG::Run}, .jlist_keys = {"pm_cwd"}, .jlist = OptJ::Value},
    {.name = "namespace", .aliases = {}, .kind = OptK::String, .field = &AppSpec::namespace_,
     .cli = {"--namespace", "namespace (default: default)", OptF::Value},
     .describe = {"namespace", OptG::Identity}, .jlist_keys = {"namespace"}, .jlist = OptJ::Value},
    {.name = "instances", .aliases = {}, .kind = OptK::Instances, .field = &AppSpec::instances,
     .cli = {"-i,--instances", "number of instances", OptF::Value},
     .jlist_keys = {"instances"}, .jlist = OptJ::Value},
    {.name = "exec_mode", .aliases = {"execMode"}, .kind = OptK::Choice, .field = &AppSpec::exec_mode, .read = read_exec_mode,
     .cli = {"--exec-mode", "fork or cluster (default: cluster with -i for a Node app, or with --port/--listen)", OptF::Value},
     .describe = {"exec mode", OptG::Run, "fork_mode"}, .jlist_keys = {"exec_mode"}, .jlist = OptJ::Custom,
     .jlist_value = exec_mode_jlist},
    {.name = "env", .aliases = {}, .kind = OptK::Env, .field = &AppSpec::env},
    {.name = "filter_env", .aliases = {"filterEnv"}, .kind = OptK::BoolOrWords, .read = read_filter_env,
     .value = filter_env_value, .cli = {"--filter-env", "drop caller variables with these prefixes", OptF::Value}},
    {.name = "autorestart", .aliases = {}, .kind = OptK::Bool, .field = &AppSpec::autorestart,
     .cli = {"--no-autorestart", "do not restart the app when it exits", OptF::NegatedSwitch},
     .describe = {"autorestart", OptG::Policy}, .jlist_keys = {"autorestart"}, .jlist = OptJ::Value},
    {.name = "autostart", .aliases = {}, .kind = OptK::Bool, .field = &AppSpec::autostart,
     .cli = {"--no-autostart", "register the app stopped", OptF::NegatedSwitch},
     .jlist_keys = {"autostart"}, .jlist = OptJ::Value},
    {.name = "max_restarts", .aliases = {"maxRestarts"}, .kind = OptK::Int, .field = &AppSpec::max_restarts, .min = 0,
     .cli = {"--max-restarts", "unstable restarts in a row before errored (16)", OptF::Value},
     .describe = {"max restarts", OptG::Policy}, .jlist_keys = {"max_restarts"}, .jlist = OptJ::Value},
    {.name = "min_uptime", .aliases = {"minUptime"}, .kind = OptK::Duration, .field = &AppSpec::min_uptime_ms,
     .cli = {"--min-uptime", "a run shorter than this is unstable (1000 ms)", OptF::Value},
     .describe = {"min uptime (ms)", OptG::Policy}, .jlist_keys = {"min_uptime"}, .jlist = OptJ::Value},
    {.name = "restart_delay", .aliases = {"restartDelay"}, .kind = OptK::Duration, .field = &AppSpec::restart_delay_ms,
     .cli = {"--restart-delay", "delay before an automatic restart (0)", OptF::Value},
     .describe = {"restart delay (ms)", OptG::Policy}, .jlist_keys = {"restart_delay"}, .jlist = OptJ::Value},
    {.name = "exp_backoff_restart_delay", .aliases = {"expBackoffRestartDelay"}, .kind = OptK::Duration,
     .field = &AppSpec::exp_backoff_restart_delay_ms,
     .cli = {"--exp-backoff-restart-delay", "first delay of an exponential backoff", OptF::Value},
     .jlist_keys = {"exp_backoff_restart_delay"}, .jlist = OptJ::Value},
    {.name = "exp_backoff_restart_delay_max", .aliases = {"expBackoffRestartDelayMax"}, .kind = OptK::Duration,
     .field = &AppSpec::exp_backoff_max_ms,
     .cli = {"--exp-backoff-restart-delay-max", "cap of the backoff (15 s)", OptF::Value},
     .jlist_keys = {"exp_backoff_restart_delay_max"}, .jlist = OptJ::Value},
    {.name = "stop_exit_codes", .aliases = {"stopExitCodes"}, .kind = OptK::ExitCodes, .field = &AppSpec::stop_exit_codes,
     .cli = {"--stop-exit-codes", "exit codes that are not restarted", OptF::ExitCodes},
     .jlist_keys = {"stop_exit_codes"}, .jlist = OptJ::Value},
    {.name = "kill_timeout", .aliases = {"killTimeout"}, .kind = OptK::Duration, .field = &AppSpec::kill_timeout_ms,
     .cli = {"--kill-timeout", "time between the stop signal and SIGKILL (1600 ms)", OptF::Value},
     .describe = {"kill timeout (ms)", OptG::Policy}, .jlist_keys = {"kill_timeout"}, .jlist = OptJ::Value},
    {.name = "kill_signal", .aliases = {"killSignal"}, .kind = OptK::String, .field = &AppSpec::kill_signal,
     .cli = {"--kill-signal", "stop signal (SIGINT)", OptF::Value},
     .describe = {"kill signal", OptG::Policy}, .jlist_keys = {"kill_signal"}, .jlist = OptJ::Value},
    {.name = "listen_timeout", .aliases = {"listenTimeout"}, .kind = OptK::Duration, .field = &AppSpec::listen_timeout_ms,
     .cli = {"--listen-timeout", "how long a start waits for the app to be ready (3000 ms)", OptF::Value},
     .jlist_keys = {"listen_timeout"}, .jlist = OptJ::Value},
    {.name = "wait_ready", .aliases = {"waitReady"}, .kind = OptK::Bool, .field = &AppSpec::wait_ready,
     .cli = {"--wait-ready", "online only once the app says ready: process.send('ready') or sd_notify READY=1", OptF::Switch},
     .jlist_keys = {"wait_ready"}, .jlist = OptJ::Value},
    {.name = "shutdown_with_message", .aliases = {"shutdownWithMessage"}, .kind = OptK::Bool,
     .field = &AppSpec::shutdown_with_message,
     .cli = {"--shutdown-with-message", "Node apps: stop with process.send('shutdown'), not kill_signal", OptF::Switch},
     .jlist_keys = {"shutdown_with_message"}, .jlist = OptJ::Value},
    {.name = "max_memory_restart", .aliases = {"maxMemoryRestart"}, .kind = OptK::Size, .field = &AppSpec::max_memory_restart,
     .cli = {"--max-memory-restart", "restart above this RSS of the tree (150M, 1G)", OptF::Value},
     .describe = {"max memory restart", OptG::Policy}, .jlist_keys = {"max_memory_restart"}, .jlist = OptJ::Value},
    // The kernel's limits of the instance's cgroup (issue 22).
    {.name = "cpu_quota", .aliases = {"cpuQuota"}, .kind = OptK::Percent, .read = read_cpu_quota, .value = cpu_quota_value,
     .cli = {"--cpu-quota", "CPU time limit of the tree, as systemd's CPUQuota (50%; 100% = one CPU)", OptF::Value},
     .describe = {"cpu quota", OptG::Policy, "none"}, .jlist_keys = {"cpu_quota"}, .jlist = OptJ::Value},
    {.name = "memory_max", .aliases = {"memoryMax"}, .kind = OptK::Size, .field = &AppSpec::memory_max, .omit_default = true,
     .cli = {"--memory-max", "the kernel's hard memory limit of the tree (512M, 1G); OOM-killed above", OptF::Value},
     .describe = {"memory max", OptG::Policy, "none"}, .jlist_keys = {"memory_max"}, .jlist = OptJ::Value},
    {.name = "tasks_max", .aliases = {"tasksMax"}, .kind = OptK::Int, .field = &AppSpec::tasks_max, .min = 0, .omit_default = true,
     .cli = {"--tasks-max", "most processes and threads of the tree (64)", OptF::Value},
     .describe = {"tasks max", OptG::Policy, "none"}, .jlist_keys = {"tasks_max"}, .jlist = OptJ::Value},
    {.name = "cron_restart", .aliases = {"cron", "cronRestart"}, .kind = OptK::Cron, .field = &AppSpec::cron_restart,
     .read = read_cron_restart,
     .cli = {"--cron-restart,--cron", "restart on a cron schedule (5 or 6 fields, or @hourly, @daily...)", OptF::Value},
     .jlist_keys = {"cron_restart"}, .jlist = OptJ::NullWhenEmpty},
    {.name = "watch", .aliases = {}, .kind = OptK::BoolOrWords, .read = read_watch, .value = watch_value,
     .cli = {"--watch", "restart on file changes in the cwd (or watch paths)", OptF::Switch},
     .jlist_keys = {"watch"}, .jlist = OptJ::Value},
    {.name = "ignore_watch", .aliases = {"ignoreWatch"}, .kind = OptK::Words, .field = &AppSpec::ignore_watch,
     .cli = {"--ignore-watch", "paths the watch ignores (names, globs, regular expressions)", OptF::Value},
     .jlist_keys = {"ignore_watch"}, .jlist = OptJ::Value},
    {.name = "watch_delay", .aliases = {"watchDelay"}, .kind = OptK::Duration, .field = &AppSpec::watch_delay_ms,
     .cli = {"--watch-delay", "quiet time after a burst of changes before the restart (1000 ms)", OptF::Value},
     .jlist_keys = {"watch_delay"}, .jlist = OptJ::Value},
    {.name = "out_file", .aliases = {"output", "outFile"}, .kind = OptK::Path, .field = &AppSpec::out_file,
     .cli = {"-o,--output", "stdout log file", OptF::Value, CliPath::AgainstAppCwd},
     .describe = {"out log path", OptG::Logs}, .jlist_keys = {"pm_out_log_path"}, .jlist = OptJ::FromInstance},
    {.name = "error_file", .aliases = {"error", "errorFile", "err_file"}, .kind = OptK::Path, .field = &AppSpec::error_file,
     .cli = {"-e,--error", "stderr log file", OptF::Value, CliPath::AgainstAppCwd},
     .describe = {"error log path", OptG::Logs}, .jlist_keys = {"pm_err_log_path"}, .jlist = OptJ::FromInstance},
    {.name = "log_file", .aliases = {"log", "logFile"}, .kind = OptK::Path, .field = &AppSpec::log_file, .read = read_log_file,
     .cli = {"-l,--log", "combined log file: stdout and stderr of every instance", OptF::OptionalValue, CliPath::AgainstAppCwd},
     .jlist_keys = {"pm_log_path"}, .jlist = OptJ::FromInstance},
    {.name = "pid_file", .aliases = {"pid", "pidFile"}, .kind = OptK::Path, .field = &AppSpec::pid_file,
     .cli = {"-p,--pid", "pid file", OptF::Value, CliPath::AgainstAppCwd},
     .describe = {"pid path", OptG::Logs}, .jlist_keys = {"pm_pid_path"}, .jlist = OptJ::FromInstance},
    {.name = "merge_logs", .aliases = {"combine_logs", "mergeLogs", "combineLogs"}, .kind = OptK::Bool,
     .field = &AppSpec::merge_logs,
     .cli = {"--merge-logs,--combine-logs", "one log file for every instance", OptF::Switch},
     .jlist_keys = {"merge_logs"}, .jlist = OptJ::Value},
    {.name = "log_date_format", .aliases = {"logDateFormat"}, .kind = OptK::String, .field = &AppSpec::log_date_format,
     .cli = {"--log-date-format", "prefix each log line with a time stamp in this format (YYYY-MM-DD HH:mm:ss Z)", OptF::Value},
     .jlist_keys = {"log_date_format"}, .jlist = OptJ::NullWhenEmpty},
    {.name = "time", .aliases = {}, .kind = OptK::Bool, .field = &AppSpec::time,
     .cli = {"--time", "prefix each log line with an ISO 8601 time stamp", OptF::Switch},
     .jlist_keys = {"time"}, .jlist = OptJ::Value},
    {.name = "log_type", .aliases = {"logType"}, .kind = OptK::Choice, .field = &AppSpec::log_type, .choices = {"json", "raw"},
     .cli = {"--log-type", "json: one JSON object per log line (message, timestamp, type, process_id, app_name)", OptF::Value},
     .jlist_keys = {"log_type"}, .jlist = OptJ::NullWhenEmpty},
    {.name = "disable_logs", .aliases = {"disableLogs"}, .kind = OptK::Bool, .field = &AppSpec::disable_logs,
     .cli = {"--disable-logs", "send the output to /dev/null", OptF::Switch},
     .jlist_keys = {"disable_logs"}, .jlist = OptJ::Value},
    {.name = "port", .aliases = {}, .kind = OptK::Int, .field = &AppSpec::port, .min = 1, .omit_default = true,
     .cli = {"--port", "sets PORT; in cluster mode pmx binds it once and hands it to every instance", OptF::Value}},
    {.name = "listen", .aliases = {}, .kind = OptK::Words, .field = &AppSpec::listen, .omit_default = true,
     .cli = {"--listen", "cluster mode: sockets pmx binds and hands to every instance as fds 3.. (3000, "
                         "127.0.0.1:3000, [::1]:3000, unix:/run/app.sock; several: space-separated)", OptF::Value}},
    {.name = "reuse_port", .aliases = {"reusePort"}, .kind = OptK::Bool, .field = &AppSpec::reuse_port, .omit_default = true,
     .cli = {"--reuse-port", "cluster mode: each instance binds its port itself with SO_REUSEPORT", OptF::Switch}},
    {.name = "instance_var", .aliases = {"instanceVar"}, .kind = OptK::String, .field = &AppSpec::instance_var,
     .cli = {"--instance-var", "variable of the instance index (NODE_APP_INSTANCE)", OptF::Value},
     .jlist_keys = {"instance_var"}, .jlist = OptJ::Value},
    {.name = "increment_var", .aliases = {"incrementVar"}, .kind = OptK::String, .field = &AppSpec::increment_var,
     .cli = {"--increment-var", "variable incremented per instance", OptF::Value},
     .jlist_keys = {"increment_var"}, .jlist = OptJ::NullWhenEmpty},
    {.name = "uid", .aliases = {"user"}, .kind = OptK::User, .field = &AppSpec::uid,
     .cli = {"--uid,--user", "run as this user (pmxd as root)", OptF::Value}},
    {.name = "gid", .aliases = {}, .kind = OptK::User, .field = &AppSpec::gid,
     .cli = {"--gid", "run with this group (pmxd as root)", OptF::Value}},
    {.name = "force", .aliases = {}, .kind = OptK::Bool, .field = &AppSpec::force,
     .cli = {"-f,--force", "start even if the script is already launched", OptF::RequestSwitch}},
    {.name = "append_env_to_name", .aliases = {"appendEnvToName"}, .kind = OptK::Bool, .field = &AppSpec::append_env_to_name},
    {.name = "log_max_size", .aliases = {"logMaxSize"}, .kind = OptK::Size, .field = &AppSpec::log_max_size,
     .cli = {"--log-max-size", "rotate a log file above this size (10M; 0: never; default from pmx.yaml)", OptF::Value}},
    {.name = "log_retain", .aliases = {"logRetain"}, .kind = OptK::Int, .field = &AppSpec::log_retain, .min = 0,
     .cli = {"--log-retain", "rotated files kept per log file (30; 0: all)", OptF::Value}},
    {.name = "log_compress", .aliases = {"logCompress"}, .kind = OptK::Bool, .field = &AppSpec::log_compress,
     .cli = {"--log-compress", "gzip rotated log files", OptF::Switch}},
    {.name = "log_rotate_interval", .aliases = {"logRotateInterval"}, .kind = OptK::Cron,
     .field = &AppSpec::log_rotate_interval, .read = read_log_rotate_interval,
     .cli = {"--log-rotate-interval", "also rotate logs on this cron schedule ('0 0 * * *': daily)", OptF::Value}},
    // Health, order and limits (issue 22).
    {.name = "health_check", .aliases = {"healthCheck"}, .kind = OptK::HealthCheck, .read = read_health_check,
     .value = health_check_value,
     .cli = {"--health-check", "probe each instance: http://host:port/path, tcp://host:port or exec:command "
                               "({instance}, {port}; Docker's defaults: 30s interval and timeout, 3 retries)", OptF::Value},
     .describe = {"health check", OptG::Policy}, .jlist_keys = {"health_check"}, .jlist = OptJ::Value},
    {.name = "depends_on", .aliases = {"dependsOn"}, .kind = OptK::Words, .field = &AppSpec::depends_on,
     .read = read_depends_on,
     .cli = {"--depends-on", "start once these apps are online and ready, stop before them (db,queue)", OptF::Value},
     .describe = {"depends on", OptG::Policy, "[]"}, .jlist_keys = {"depends_on"}, .jlist = OptJ::Value},
    // Observability (docs/metrics.md).
    {.name = "pmx", .aliases = {}, .kind = OptK::Bool, .field = &AppSpec::pmx,
     .cli = {"--no-pmx", "Node apps: no preload (metrics, @pm2/io metrics, drain before the app's own stop handler)", OptF::NegatedSwitch},
     .jlist_keys = {"pmx"}, .jlist = OptJ::Value},
  };
  // clang-format on
  return table;
}

const AppOption* find_app_option(std::string_view name_or_alias) {
  static const std::map<std::string_view, const AppOption*> by_name = [] {
    std::map<std::string_view, const AppOption*> out;
    for (const AppOption& option : app_options()) {
      out.emplace(option.name, &option);
      for (const char* alias : option.aliases) out.emplace(alias, &option);
    }
    return out;
  }();
  auto it = by_name.find(name_or_alias);
  return it == by_name.end() ? nullptr : it->second;
}

void read_option(const AppOption& o, OptionReader& r, AppSpec& s) {
  if (o.read) return o.read(r, s);
  const char* key = o.name;
  std::visit(OptionVisitor{
                 [](std::monostate) {},
                 [&](std::string AppSpec::*m) {
                   if (o.kind == OptK::Choice) r.choice(key, s.*m, o.choices);
                   else if (o.kind == OptK::User) r.id_or_name(key, s.*m);
                   else r.string(key, s.*m);
                 },
                 [&](bool AppSpec::*m) { r.boolean(key, s.*m); },
                 [&](int AppSpec::*m) {
                   if (o.kind == OptK::Instances) r.instances(key, s.*m);
                   else r.integer(key, s.*m, o.min);
                 },
                 [&](std::uint64_t AppSpec::*m) {
                   if (o.kind == OptK::Size) r.size(key, s.*m);
                   else r.duration(key, s.*m);
                 },
                 [&](std::vector<std::string> AppSpec::*m) { r.words(key, s.*m); },
                 [&](Env AppSpec::*m) { r.env(key, s.*m); },
                 [&](std::vector<int> AppSpec::*m) { r.int_list(key, s.*m); },
                 [&](std::optional<std::uint64_t> AppSpec::*m) {
                   r.optional(key, s.*m, [&](std::uint64_t& v) {
                     if (o.kind == OptK::Size) r.size(key, v);
                     else r.duration(key, v);
                   });
                 },
                 [&](std::optional<int> AppSpec::*m) { r.optional(key, s.*m, [&](int& v) { r.integer(key, v, o.min); }); },
                 [&](std::optional<bool> AppSpec::*m) { r.optional(key, s.*m, [&](bool& v) { r.boolean(key, v); }); },
                 [&](std::optional<std::string> AppSpec::*m) {
                   r.optional(key, s.*m, [&](std::string& v) { r.string(key, v); });
                 },
             },
             o.field);
}

json option_value(const AppOption& o, const AppSpec& s) {
  if (o.value) return o.value(s);
  static const AppSpec defaults;
  return std::visit(
      [&](auto m) -> json {
        if constexpr (std::is_same_v<decltype(m), std::monostate>) {
          return json();
        } else {
          const auto& v = s.*m;
          if (o.omit_default && v == defaults.*m) return json();
          if constexpr (IsOptional<std::remove_cvref_t<decltype(v)>>::value) return v ? json(*v) : json();
          else return json(v);
        }
      },
      o.field);
}

void write_jlist_options(const AppSpec& s, json& pm2_env) {
  for (const AppOption& o : app_options()) {
    if (o.jlist == OptJ::None || o.jlist == OptJ::FromInstance) continue;
    json v = o.jlist == OptJ::Custom ? o.jlist_value(s) : option_value(o, s);
    if (o.jlist == OptJ::NullWhenEmpty && v.is_string() && v.get_ref<const std::string&>().empty()) v = nullptr;
    for (const char* key : o.jlist_keys) pm2_env[key] = v;
  }
}

}  // namespace pmx::config
