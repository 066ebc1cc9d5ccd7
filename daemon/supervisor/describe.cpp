// describe: jlist's shape, kept to PM2's field names so PM2 scripts keep working.
#include "daemon/supervisor/describe.hpp"

#include "config/app_options.hpp"
#include "config/json_access.hpp"
#include "config/json_depth.hpp"

#include <pwd.h>
#include <algorithm>
#include <map>
#include <vector>
#include <unistd.h>

namespace pmx::daemon {

namespace {

std::string user_name() {
  static const std::string name = [] {
    const passwd* pw = getpwuid(geteuid());
    return std::string(pw && pw->pw_name ? pw->pw_name : std::to_string(geteuid()));
  }();
  return name;
}

/// The user the app runs as: its uid option (a name, or a number shown as the user's name when
/// it has one), else pmxd's own user. Looked up once per value.
std::string app_user(const config::AppSpec& s) {
  if (s.uid.empty()) return user_name();
  static std::map<std::string, std::string> names;
  auto it = names.find(s.uid);
  if (it != names.end()) return it->second;
  std::string name = s.uid;
  if (s.uid.find_first_not_of("0123456789") == std::string::npos && s.uid.size() < 10) {
    if (const passwd* pw = getpwuid(static_cast<uid_t>(std::stoul(s.uid))); pw && pw->pw_name) name = pw->pw_name;
  }
  return names.emplace(s.uid, name).first->second;
}

/// Calls fn(key, entry) for each entry of env_json, an object of strings as the daemon writes
/// it: key unescaped, entry the member's text ("KEY":"value").
template <typename Fn>
void for_each_env_entry(std::string_view env_json, Fn&& fn) {
  std::size_t i = env_json.find('"');
  while (i != std::string_view::npos && i < env_json.size()) {
    const std::size_t key_end = config::json_string_end(env_json, i);
    const std::size_t value_start = env_json.find('"', key_end);
    if (value_start == std::string_view::npos) return;
    const std::size_t value_end = config::json_string_end(env_json, value_start);
    const std::string_view quoted = env_json.substr(i, key_end - i);
    std::string key(quoted.substr(1, quoted.size() - 2));
    if (key.find('\\') != std::string::npos) {
      const auto decoded = nlohmann::json::parse(quoted, nullptr, false);
      if (decoded.is_string()) key = decoded.get_ref<const std::string&>();
    }
    fn(key, env_json.substr(i, value_end - i));
    i = env_json.find('"', value_end);
  }
}

/// Appends ,"KEY":"value" for each entry of env_json whose key pm2_env does not already have:
/// PM2 puts the app's env keys at the top of pm2_env too (dashboards read pm2_env.NODE_ENV),
/// and its own fields stay as they are.
void append_env_entries(std::string& out, std::string_view env_json, const nlohmann::json& pm2_env) {
  for_each_env_entry(env_json, [&](const std::string& key, std::string_view entry) {
    if (key != "env" && !pm2_env.contains(key)) {
      out += ',';
      out.append(entry);
    }
  });
}

/// The environment in's process gets, as JSON text (Instance::environment): its own entries
/// encoded, then the caller's that reach it, spliced from their text encoded once per reply.
std::string environment_text(const Instance& in, const std::string& home, CallerEnvTexts& callers) {
  config::Env own = in.own_environment(home);
  if (!in.run.home.empty()) own["HOME"] = in.run.home;
  std::string out = nlohmann::json(own).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!in.caller_env || in.spec.filter_env_all) return out;
  out.pop_back();  // its closing brace
  bool first = own.empty();
  for_each_env_entry(callers.text_of(*in.caller_env), [&](const std::string& key, std::string_view entry) {
    if (own.count(key) != 0 || !in.keeps_caller_var(key)) return;
    if (!first) out += ',';
    out.append(entry);
    first = false;
  });
  out += '}';
  return out;
}

/// The instance's log sinks, each once (out and err may share a file).
std::vector<const LogSink*> distinct_sinks(const Instance& in) {
  std::vector<const LogSink*> sinks;
  for (const LogSink* sink : {in.out_sink.get(), in.err_sink.get(), in.log_sink.get()}) {
    if (sink && std::find(sinks.begin(), sinks.end(), sink) == sinks.end()) sinks.push_back(sink);
  }
  return sinks;
}

std::uint64_t dropped_bytes(const Instance& in) {
  std::uint64_t total = 0;
  for (const LogSink* sink : distinct_sinks(in)) total += sink->dropped_bytes();
  return total;
}

/// "<file>: <what is wrong>" for each log file of the instance that cannot be written now.
nlohmann::json log_error(const Instance& in) {
  std::string text;
  for (const LogSink* sink : distinct_sinks(in)) {
    if (!sink->error().empty()) text += (text.empty() ? "" : "; ") + sink->path() + ": " + sink->error();
  }
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

}  // namespace

nlohmann::json exit_code_json(const Instance& in) {
  using json = nlohmann::json;
  return in.exited_once && in.last_exit.signal == 0 && !in.last_exit.unknown ? json(in.last_exit.code) : json(nullptr);
}

nlohmann::json exit_signal_json(const Instance& in) {
  using json = nlohmann::json;
  return in.exited_once && in.last_exit.signal != 0 ? json(config::signal_name(in.last_exit.signal)) : json(nullptr);
}

const std::string& CallerEnvTexts::text_of(const config::Env& env) {
  auto [it, added] = texts_.try_emplace(&env);
  if (added) it->second = nlohmann::json(env).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return it->second;
}

EntryShape entry_shape(const nlohmann::json& params) {
  const auto brief = config::bool_field(params, "brief");
  return brief && *brief == true ? EntryShape::Brief : EntryShape::Full;
}

std::string describe(const Instance& in, std::int64_t now_ms, const std::string& home, CallerEnvTexts& callers,
                     EntryShape shape) {
  using json = nlohmann::json;
  const auto& s = in.spec;
  const State state = in.fsm.state();
  const bool alive = in.run.pid > 0;

  json pm2_env{
      {"pm_id", in.id},
      {"status", status_name(state)},
      {"pmx_state", to_string(state)},
      {"restart_time", in.fsm.restart_count()},
      {"unstable_restarts", in.fsm.unstable_restarts()},
      {"pm_uptime", in.started_at_ms},
      {"created_at", in.created_at_ms},
      {"pm_out_log_path", in.out_path},
      {"pm_err_log_path", in.err_path},
      {"pm_log_path", in.log_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.log_path)},
      {"pm_pid_path", in.pid_path},
      {"unique_id", in.unique_id},
      {"NODE_APP_INSTANCE", in.app_instance},
      {"prev_restart_delay", in.fsm.prev_restart_delay().count()},
      {"username", app_user(s)},
      {"PMX_HOME", home},
      {"uptime_ms", alive ? now_ms - in.started_at_ms : 0},
      {"exit_code", exit_code_json(in)},
      {"exit_signal", exit_signal_json(in)},
      {"status_reason", in.start_blocker.empty() ? in.fsm.reason() : in.start_blocker},
      {"last_exit_reason", in.last_exit_reason ? json(to_string(*in.last_exit_reason)) : json(nullptr)},
      {"last_exit_at", in.last_exit_reason ? json(in.last_exit_at_ms) : json(nullptr)},
      {"health", in.spec.health_check.enabled() ? json(to_string(in.health.health == Health::None ? Health::Starting : in.health.health)) : json(nullptr)},
      {"health_last_result", in.health.last_result.empty() ? json(nullptr) : json(in.health.last_result)},
      {"health_last_at", in.health.last_at_ms ? json(in.health.last_at_ms) : json(nullptr)},
      {"health_failures", in.health.failures},
      {"exec_error", in.run.exec_error.empty() ? json(nullptr) : json(in.run.exec_error)},
      {"ready_warning", in.ready_warning.empty() ? json(nullptr) : json(in.ready_warning)},
      {"cgroup", in.run.cgroup.empty() ? json(nullptr) : json(in.run.cgroup)},
      // What the limits count (cpu_quota, memory_max, tasks_max): null where there is none.
      {"cpu_throttled_usec", in.limit_usage.cpu_throttled_us ? json(*in.limit_usage.cpu_throttled_us) : json(nullptr)},
      {"oom_kills", in.limit_usage.oom_kills ? json(*in.limit_usage.oom_kills) : json(nullptr)},
      {"tasks_current", in.limit_usage.tasks ? json(*in.limit_usage.tasks) : json(nullptr)},
      {"log_dropped_bytes", dropped_bytes(in)},
      {"notify_status", in.notify_status},
      {"log_error", log_error(in)},
  };
  // The options, with PM2's names in pm2_env (config/app_options.hpp); the log and pid paths
  // above are the instance's own.
  config::write_jlist_options(s, pm2_env);
  // Observability: what the run reports about itself, in PM2's shape (docs/metrics.md).
  pm2_env["axm_monitor"] = axm_monitor(in.metrics);
  pm2_env["pmx_metrics_dropped"] = in.metrics.dropped;
  pm2_env["pmx_preload_errors"] = in.metrics.runtime ? in.metrics.runtime->errors : 0;
  std::string pm2_env_text = pm2_env.dump(-1, ' ', false, json::error_handler_t::replace);
  if (shape == EntryShape::Full) {
    // The environment is spliced in as text, before pm2_env's closing brace: the caller's part,
    // most of it, is encoded once per reply for all the instances that share it.
    const std::string env_text = environment_text(in, home, callers);
    pm2_env_text.pop_back();
    append_env_entries(pm2_env_text, env_text, pm2_env);
    pm2_env_text += R"(,"env":)";
    pm2_env_text += env_text;
    pm2_env_text += '}';
  }
  json entry{
      {"pid", alive ? in.run.pid : 0},
      {"name", s.name},
      {"pm_id", in.id},
      {"monit", {{"memory", alive ? in.usage.rss_bytes : 0}, {"cpu", alive ? in.usage.cpu_percent : 0.0}}},
  };
  std::string out = entry.dump(-1, ' ', false, json::error_handler_t::replace);
  out.pop_back();
  out += R"(,"pm2_env":)";
  out += pm2_env_text;
  out += '}';
  return out;
}

}  // namespace pmx::daemon
