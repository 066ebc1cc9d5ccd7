// AppSpec <-> JSON with PM2's option names, aliases and validation.
#include "config/app_spec.hpp"
#include "config/cron.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/listen_address.hpp"
#include "config/log_format.hpp"
#include "config/units.hpp"

namespace pmx::config {
namespace {

using json = nlohmann::json;

struct SignalName {
  int number;
  const char* name;
};

constexpr SignalName kSignals[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
    {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
    {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},
    {SIGPWR, "SIGPWR"},   {SIGSYS, "SIGSYS"},
};

/// Every app option: PM2's name first, then its aliases (PM2's and camelCase).
const std::vector<std::vector<std::string>>& option_table() {
  static const std::vector<std::vector<std::string>> table = {
      {"name"}, {"script", "exec", "cmd", "command"}, {"args"},
      {"interpreter", "exec_interpreter", "execInterpreter"},
      {"interpreter_args", "node_args", "interpreterArgs", "nodeArgs"},
      {"cwd"}, {"namespace"}, {"instances"}, {"exec_mode", "execMode"}, {"env"},
      {"filter_env", "filterEnv"}, {"autorestart"}, {"autostart"},
      {"max_restarts", "maxRestarts"}, {"min_uptime", "minUptime"},
      {"restart_delay", "restartDelay"},
      {"exp_backoff_restart_delay", "expBackoffRestartDelay"},
      {"exp_backoff_restart_delay_max", "expBackoffRestartDelayMax"},
      {"stop_exit_codes", "stopExitCodes"}, {"kill_timeout", "killTimeout"},
      {"kill_signal", "killSignal"}, {"listen_timeout", "listenTimeout"},
      {"wait_ready", "waitReady"}, {"shutdown_with_message", "shutdownWithMessage"},
      {"max_memory_restart", "maxMemoryRestart"}, {"cron_restart", "cron", "cronRestart"},
      {"watch"}, {"ignore_watch", "ignoreWatch"}, {"watch_delay", "watchDelay"},
      {"out_file", "output", "outFile"}, {"error_file", "error", "errorFile", "err_file"},
      {"log_file", "log", "logFile"}, {"pid_file", "pid", "pidFile"},
      {"merge_logs", "combine_logs", "mergeLogs", "combineLogs"},
      {"log_date_format", "logDateFormat"}, {"time"}, {"log_type", "logType"},
      {"disable_logs", "disableLogs"}, {"port"}, {"instance_var", "instanceVar"},
      {"increment_var", "incrementVar"}, {"uid", "user"}, {"gid"}, {"force"},
      {"append_env_to_name", "appendEnvToName"}, {"log_max_size", "logMaxSize"},
      {"log_retain", "logRetain"}, {"log_compress", "logCompress"},
      {"log_rotate_interval", "logRotateInterval"}, {"listen"}, {"reuse_port", "reusePort"},
  };
  return table;
}

const std::vector<std::string>& aliases_of(const std::string& canonical) {
  for (const auto& row : option_table()) {
    if (row.front() == canonical) return row;
  }
  static const std::vector<std::string> none;
  return none;
}

// Reads one option by its PM2 name or an alias; records the first error with its option.
class Reader {
 public:
  explicit Reader(const json& j) : j_(j) {}

  const json* find(const char* canonical) const {
    for (const auto& k : aliases_of(canonical)) {
      auto it = j_.find(k);
      if (it != j_.end() && !it->is_null()) return &*it;
    }
    return nullptr;
  }

  void fail(const char* key, const std::string& expected) {
    fail_msg(key, "expected " + expected);
  }
  void fail_msg(const char* key, const std::string& message) {
    if (!error_.empty()) return;
    option_ = key;
    error_ = "option '" + std::string(key) + "': " + message;
  }
  const std::string& option() const { return option_; }

  void string(const char* key, std::string& out) {
    if (const json* v = find(key)) {
      if (v->is_string()) out = v->get<std::string>();
      else fail(key, "a string");
    }
  }

  void boolean(const char* key, bool& out) {
    if (const json* v = find(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else if (v->is_string() && (*v == "true" || *v == "false")) out = (*v == "true");
      else fail(key, "true or false");
    }
  }

  void integer(const char* key, int& out, int min) {
    if (const json* v = find(key)) {
      long long n = 0;
      if (v->is_number_integer()) n = v->get<long long>();
      else if (v->is_string()) {
        try {
          std::size_t used = 0;
          n = std::stoll(v->get<std::string>(), &used);
          if (used != v->get_ref<const std::string&>().size()) throw std::invalid_argument("");
        } catch (const std::exception&) {
          return fail(key, "an integer");
        }
      } else {
        return fail(key, "an integer");
      }
      if (n < min || n > std::numeric_limits<int>::max()) {
        return fail(key, "an integer >= " + std::to_string(min));
      }
      out = static_cast<int>(n);
    }
  }

  // Numbers are milliseconds; anything above kMaxDurationMs is refused before it is converted.
  void duration(const char* key, std::uint64_t& out) {
    const json* v = find(key);
    if (!v) return;
    const std::string expected = "a duration >= 0 (ms, or 5s, 2m, 1h)";
    const std::string too_large = std::string("a duration of at most ") + kMaxDurationText;
    if (v->is_number_unsigned()) {
      if (v->get<std::uint64_t>() > kMaxDurationMs) return fail(key, too_large);
      out = v->get<std::uint64_t>();
    } else if (v->is_number_integer()) {
      const long long n = v->get<long long>();
      if (n < 0) return fail(key, expected);
      if (static_cast<std::uint64_t>(n) > kMaxDurationMs) return fail(key, too_large);
      out = static_cast<std::uint64_t>(n);
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      if (!(d >= 0)) return fail(key, expected);
      if (!(d <= static_cast<double>(kMaxDurationMs))) return fail(key, too_large);
      out = static_cast<std::uint64_t>(d);
    } else if (v->is_string()) {
      auto r = parse_duration_ms(v->get<std::string>());
      if (r) out = *r;
      else fail_msg(key, r.error());
    } else {
      fail(key, "a duration (ms, or 5s, 2m, 1h)");
    }
  }

  // Numbers are bytes; anything above kMaxSizeBytes is refused before it is converted.
  void size(const char* key, std::uint64_t& out) {
    const json* v = find(key);
    if (!v) return;
    const std::string expected = "a size (bytes, or 200K, 150M, 1G)";
    if (v->is_number_unsigned()) {
      if (v->get<std::uint64_t>() > kMaxSizeBytes) return fail(key, std::string("a size of at most ") + kMaxSizeText);
      out = v->get<std::uint64_t>();
    } else if (v->is_number_integer() && v->get<long long>() >= 0) {
      if (static_cast<std::uint64_t>(v->get<long long>()) > kMaxSizeBytes) {
        return fail(key, std::string("a size of at most ") + kMaxSizeText);
      }
      out = static_cast<std::uint64_t>(v->get<long long>());
    } else if (v->is_string()) {
      auto r = parse_size(v->get<std::string>());
      if (r) out = *r;
      else fail_msg(key, r.error());
    } else {
      fail(key, expected);
    }
  }

  // A list of strings, or one string split on whitespace with shell quoting.
  void words(const char* key, std::vector<std::string>& out) {
    if (const json* v = find(key)) {
      if (v->is_string()) {
        auto r = split_shell_words(v->get<std::string>());
        if (r) out = *r;
        else fail_msg(key, r.error());
      } else if (v->is_array()) {
        out.clear();
        for (const auto& item : *v) {
          if (item.is_string()) out.push_back(item.get<std::string>());
          else if (item.is_number()) out.push_back(item.dump());
          else return fail(key, "a string or a list of strings");
        }
      } else {
        fail(key, "a string or a list of strings");
      }
    }
  }

  void env(const char* key, Env& out) {
    if (const json* v = find(key)) {
      if (!v->is_object()) return fail(key, "an object of NAME: value");
      for (const auto& [k, val] : v->items()) {
        if (val.is_string()) out[k] = val.get<std::string>();
        else if (val.is_number() || val.is_boolean()) out[k] = val.dump();
        else if (val.is_null()) out[k] = "";
        // PM2 passes objects as JSON text; bytes that are not UTF-8 must not make dump() throw.
        else out[k] = val.dump(-1, ' ', false, json::error_handler_t::replace);
      }
    }
  }

  void int_list(const char* key, std::vector<int>& out) {
    if (const json* v = find(key)) {
      out.clear();
      const json one = v->is_array() ? json() : json::array({*v});
      if (!v->is_array() && !v->is_number_integer()) {
        return fail(key, "an exit code or a list of exit codes");
      }
      for (const auto& item : v->is_array() ? *v : one) {
        if (!item.is_number_integer() || item.get<long long>() < 0 || item.get<long long>() > 255) {
          return fail(key, "exit codes between 0 and 255");
        }
        out.push_back(static_cast<int>(item.get<long long>()));
      }
    }
  }

  const std::string& error() const { return error_; }

  // true/false, or a string (filter_env: true, or prefixes).
  void bool_or_words(const char* key, bool& flag, std::vector<std::string>& out) {
    if (const json* v = find(key)) {
      if (v->is_boolean()) flag = v->get<bool>();
      else words(key, out);
    }
  }

  // instances: a count, "max", 0 or -N (CPUs, CPUs - N).
  void instances(const char* key, int& out) {
    const json* v = find(key);
    if (!v) return;
    long long n = 0;
    if (v->is_string() && (*v == "max" || *v == "MAX")) n = 0;
    else if (v->is_number_integer()) n = v->get<long long>();
    else if (v->is_string()) {
      const std::string& text = v->get_ref<const std::string&>();
      char* end = nullptr;
      n = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0') return fail(key, "a number of instances, \"max\", 0 or -N");
    } else {
      return fail(key, "a number of instances, \"max\", 0 or -N");
    }
    if (n > kMaxInstances || n < -kMaxInstances) {
      return fail(key, "a number of instances between -" + std::to_string(kMaxInstances) + " and " +
                           std::to_string(kMaxInstances));
    }
    const unsigned cpus = std::thread::hardware_concurrency();
    out = resolve_instances(n, cpus == 0 ? 1 : static_cast<int>(cpus));
  }

  // One of a fixed set of strings.
  void choice(const char* key, std::string& out, std::initializer_list<const char*> allowed) {
    std::string value;
    string(key, value);
    if (value.empty()) return;
    for (const char* a : allowed) {
      if (value == a) {
        out = value;
        return;
      }
    }
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    fail(key, "one of " + list + " (got '" + value + "')");
  }

  // A user or group: a name or a numeric id.
  void id_or_name(const char* key, std::string& out) {
    if (const json* v = find(key)) {
      if (v->is_string()) out = v->get<std::string>();  // "" leaves it unset
      else if (v->is_number_unsigned()) out = std::to_string(v->get<std::uint64_t>());
      else fail(key, "a user or group name, or a numeric id");
    }
  }

  // The same readers into an option left unset when it is absent.
  template <typename T, typename Read>
  void optional(const char* key, std::optional<T>& out, Read read) {
    if (!find(key)) return;
    T value{};
    read(value);
    if (error_.empty()) out = std::move(value);
  }

 private:
  const json& j_;
  std::string error_;
  std::string option_;
};

}  // namespace

Result<std::vector<std::string>> split_shell_words(const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < text.size() &&
               (text[i + 1] == '"' || text[i + 1] == '\\')) cur += text[++i];
      else cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      cur += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote) return Error{"unterminated quote in '" + text + "'"};
  if (in_word) words.push_back(std::move(cur));
  return words;
}

json to_json(const AppSpec& s) {
  json j{
      {"name", s.name},
      {"script", s.script},
      {"args", s.args},
      {"interpreter", s.interpreter.empty() ? "none" : s.interpreter},
      {"interpreter_args", s.interpreter_args},
      {"cwd", s.cwd},
      {"namespace", s.namespace_},
      {"instances", s.instances},
      {"env", s.env},
      {"autorestart", s.autorestart},
      {"max_restarts", s.max_restarts},
      {"min_uptime", s.min_uptime_ms},
      {"restart_delay", s.restart_delay_ms},
      {"exp_backoff_restart_delay", s.exp_backoff_restart_delay_ms},
      {"exp_backoff_restart_delay_max", s.exp_backoff_max_ms},
      {"stop_exit_codes", s.stop_exit_codes},
      {"kill_timeout", s.kill_timeout_ms},
      {"kill_signal", s.kill_signal},
      {"max_memory_restart", s.max_memory_restart},
      {"out_file", s.out_file},
      {"error_file", s.error_file},
      {"pid_file", s.pid_file},
      {"exec_mode", s.exec_mode},
      {"autostart", s.autostart},
      {"filter_env", s.filter_env_all ? json(true) : json(s.filter_env)},
      {"listen_timeout", s.listen_timeout_ms},
      {"wait_ready", s.wait_ready},
      {"shutdown_with_message", s.shutdown_with_message},
      {"cron_restart", s.cron_restart},
      {"watch", s.watch_paths.empty() ? json(s.watch) : json(s.watch_paths)},
      {"ignore_watch", s.ignore_watch},
      {"watch_delay", s.watch_delay_ms},
      {"log_file", s.log_file},
      {"merge_logs", s.merge_logs},
      {"log_date_format", s.log_date_format},
      {"time", s.time},
      {"log_type", s.log_type},
      {"disable_logs", s.disable_logs},
      {"instance_var", s.instance_var},
      {"increment_var", s.increment_var},
      {"uid", s.uid},
      {"gid", s.gid},
      {"force", s.force},
      {"append_env_to_name", s.append_env_to_name},
  };
  if (s.port) j["port"] = s.port;
  if (!s.listen.empty()) j["listen"] = s.listen;
  if (s.reuse_port) j["reuse_port"] = true;
  // Unset rotation options stay out: the daemon's defaults (pmx.yaml) apply to them.
  if (s.log_max_size) j["log_max_size"] = *s.log_max_size;
  if (s.log_retain) j["log_retain"] = *s.log_retain;
  if (s.log_compress) j["log_compress"] = *s.log_compress;
  if (s.log_rotate_interval) j["log_rotate_interval"] = *s.log_rotate_interval;
  return j;
}

Result<AppSpec> spec_from_json(const json& j) {
  SpecError ignored;
  return spec_from_json(j, ignored);
}

Result<AppSpec> spec_from_json(const json& j, SpecError& error) {
  if (!j.is_object()) {
    error = SpecError{"", "an app must be an object of options"};
    return Error{error.message};
  }
  AppSpec s;
  Reader r(j);
  if (r.find("name") == nullptr && r.find("script") != nullptr) {
    // The CLI and the file loaders default it to the script's name; a request must say it.
    error = SpecError{"name", "option 'name': required (every app has a name; pmx start and ecosystem files "
                              "default it to the script's file name)"};
    return Error{error.message};
  }
  r.string("name", s.name);
  r.string("script", s.script);
  r.words("args", s.args);
  r.string("interpreter", s.interpreter);
  if (s.interpreter == "none") s.interpreter.clear();
  r.words("interpreter_args", s.interpreter_args);
  r.string("cwd", s.cwd);
  r.string("namespace", s.namespace_);
  r.instances("instances", s.instances);
  r.choice("exec_mode", s.exec_mode, {"fork", "cluster", "fork_mode", "cluster_mode"});
  if (s.exec_mode.size() > 5 && s.exec_mode.ends_with("_mode")) s.exec_mode.resize(s.exec_mode.size() - 5);
  r.env("env", s.env);
  r.bool_or_words("filter_env", s.filter_env_all, s.filter_env);
  r.boolean("autorestart", s.autorestart);
  r.boolean("autostart", s.autostart);
  r.integer("max_restarts", s.max_restarts, 0);
  r.duration("min_uptime", s.min_uptime_ms);
  r.duration("restart_delay", s.restart_delay_ms);
  r.duration("exp_backoff_restart_delay", s.exp_backoff_restart_delay_ms);
  r.duration("exp_backoff_restart_delay_max", s.exp_backoff_max_ms);
  r.int_list("stop_exit_codes", s.stop_exit_codes);
  r.duration("kill_timeout", s.kill_timeout_ms);
  r.string("kill_signal", s.kill_signal);
  r.duration("listen_timeout", s.listen_timeout_ms);
  r.boolean("wait_ready", s.wait_ready);
  r.boolean("shutdown_with_message", s.shutdown_with_message);
  r.size("max_memory_restart", s.max_memory_restart);
  if (const json* cron = r.find("cron_restart")) {
    // 0 or "0" disables it, as in PM2.
    if (!(cron->is_number_integer() && cron->get<long long>() == 0) && *cron != "0") r.string("cron_restart", s.cron_restart);
  }
  if (const json* w = r.find("watch")) {
    if (w->is_boolean()) s.watch = w->get<bool>();
    else {
      r.words("watch", s.watch_paths);
      s.watch = !s.watch_paths.empty();
    }
  }
  r.words("ignore_watch", s.ignore_watch);
  r.duration("watch_delay", s.watch_delay_ms);
  r.string("out_file", s.out_file);
  r.string("error_file", s.error_file);
  if (const json* log = r.find("log_file"); log && log->is_boolean()) {
    s.log_file = log->get<bool>() ? "true" : "";  // true: the default combined log
  } else {
    r.string("log_file", s.log_file);
  }
  r.string("pid_file", s.pid_file);
  r.boolean("merge_logs", s.merge_logs);
  r.string("log_date_format", s.log_date_format);
  r.boolean("time", s.time);
  r.choice("log_type", s.log_type, {"json", "raw"});
  r.boolean("disable_logs", s.disable_logs);
  r.integer("port", s.port, 1);
  r.words("listen", s.listen);
  r.boolean("reuse_port", s.reuse_port);
  // `instances` without an exec_mode: decided here when the interpreter is given (the
  // ecosystem loader decides again once it has chosen one). to_json writes the decision down.
  if (!r.find("exec_mode") && r.find("instances")) apply_cluster_rule(s);
  r.string("instance_var", s.instance_var);
  r.string("increment_var", s.increment_var);
  r.id_or_name("uid", s.uid);
  r.id_or_name("gid", s.gid);
  r.boolean("force", s.force);
  r.boolean("append_env_to_name", s.append_env_to_name);
  r.optional("log_max_size", s.log_max_size, [&](std::uint64_t& v) { r.size("log_max_size", v); });
  r.optional("log_retain", s.log_retain, [&](int& v) { r.integer("log_retain", v, 0); });
  r.optional("log_compress", s.log_compress, [&](bool& v) { r.boolean("log_compress", v); });
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
  if (!r.error().empty()) {
    error = SpecError{r.option(), r.error()};
    return Error{r.error()};
  }
  auto valid = validate(s);
  if (!valid) {
    // validate() names the option first: "option 'x': ..."
    const std::string& m = valid.error();
    auto open = m.find('\'');
    auto close = open == std::string::npos ? open : m.find('\'', open + 1);
    error = SpecError{close == std::string::npos ? "" : m.substr(open + 1, close - open - 1), m};
    return Error{m};
  }
  return s;
}

int resolve_instances(long long requested, int cpus) {
  long long n = requested > 0 ? requested : cpus + requested;  // 0 and "max": CPUs; -N: CPUs - N
  return n < 1 ? 1 : static_cast<int>(n);
}

std::string canonical_option(const std::string& key) {
  if (key.rfind("env_", 0) == 0 && key.size() > 4) return key;
  for (const auto& row : option_table()) {
    for (const auto& name : row) {
      if (name == key) return row.front();
    }
  }
  return "";
}

const std::vector<std::string>& option_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& row : option_table()) out.push_back(row.front());
    return out;
  }();
  return names;
}

std::vector<std::string> unsupported_options(const AppSpec& s) {
  std::vector<std::string> out;
  if (s.exec_mode == "cluster" && !runs_in_cluster_mode(s)) {
    out.push_back("exec_mode: cluster without 'port' or 'listen' for an app that is not Node's (the instances run "
                  "in fork mode; pmx hands a non-Node app the sockets it names)");
  }
  return out;
}

Result<bool> validate(const AppSpec& s) {
  if (s.script.empty()) return Error{"option 'script': required"};
  if (s.name.empty()) return Error{"option 'name': must not be empty"};
  if (s.name.find_first_of("\n\r/") != std::string::npos) {
    return Error{"option 'name': must not contain '/' or line breaks"};
  }
  bool all_digits = s.name.find_first_not_of("0123456789") == std::string::npos;
  if (all_digits || s.name == "all") {
    return Error{"option 'name': '" + s.name + "' would be read as an id or 'all'"};
  }
  if (s.namespace_.empty()) return Error{"option 'namespace': must not be empty"};
  if (s.instances < 1) return Error{"option 'instances': expected a number >= 1"};
  if (signal_from_name(s.kill_signal) == 0) {
    return Error{"option 'kill_signal': unknown signal '" + s.kill_signal + "'"};
  }
  for (int code : s.stop_exit_codes) {
    if (code < 0 || code > 255) return Error{"option 'stop_exit_codes': exit codes are 0..255"};
  }
  if (s.port < 0 || s.port > 65535) return Error{"option 'port': expected a TCP port, 1..65535"};
  if (auto listen = listen_addresses(s); !listen) return Error{listen.error()};
  if (!s.cron_restart.empty()) {
    if (auto cron = CronSchedule::parse(s.cron_restart); !cron) return Error{"option 'cron_restart': " + cron.error()};
  }
  if (s.log_rotate_interval && !s.log_rotate_interval->empty()) {
    if (auto cron = CronSchedule::parse(*s.log_rotate_interval); !cron) {
      return Error{"option 'log_rotate_interval': " + cron.error()};
    }
  }
  if (!s.log_date_format.empty()) {
    if (auto format = DateFormat::compile(s.log_date_format); !format) {
      return Error{"option 'log_date_format': " + format.error()};
    }
  }
  if (s.log_retain && *s.log_retain < 0) return Error{"option 'log_retain': expected a whole number >= 0"};
  if (s.log_max_size && *s.log_max_size > kMaxSizeBytes) {
    return Error{std::string("option 'log_max_size': expected a size of at most ") + kMaxSizeText};
  }
  if (s.instance_var.empty() || s.instance_var.find_first_of(std::string("=\0", 2)) != std::string::npos) {
    return Error{"option 'instance_var': expected an environment variable name"};
  }
  if (auto env = validate_env(s.env); !env) return Error{"option 'env': " + env.error()};
  if (!s.increment_var.empty()) {
    if (s.increment_var.find_first_of(std::string("=\0", 2)) != std::string::npos) {
      return Error{"option 'increment_var': expected an environment variable name"};
    }
    // The daemon adds the instance index to this base: keep the sum a small integer.
    if (auto base = s.env.find(s.increment_var); base != s.env.end()) {
      const std::string& text = base->second;
      char* end = nullptr;
      errno = 0;
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno == ERANGE || n < 0 || n > kMaxIncrementBase) {
        return Error{"option 'increment_var': env." + s.increment_var + " is its base and must be an integer 0.." +
                     std::to_string(kMaxIncrementBase) + " (got '" + text + "')"};
      }
    }
  }
  return true;
}

Result<bool> validate_env(const Env& env) {
  for (const auto& [key, value] : env) {
    if (key.empty()) return Error{"a variable name must not be empty"};
    if (key.find('=') != std::string::npos) {
      return Error{"variable name '" + key + "' contains '=': the app would get another variable"};
    }
    if (key.find('\0') != std::string::npos) return Error{"a variable name contains a NUL byte"};
    if (value.find('\0') != std::string::npos) return Error{"the value of '" + key + "' contains a NUL byte"};
  }
  return true;
}

int signal_from_name(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    if (name.size() > 2) return 0;
    int n = std::atoi(name.c_str());
    return (n > 0 && n < 65) ? n : 0;
  }
  std::string full = name;
  for (char& c : full) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (full.rfind("SIG", 0) != 0) full = "SIG" + full;
  for (const auto& s : kSignals) {
    if (full == s.name) return s.number;
  }
  return 0;
}

std::string signal_name(int signo) {
  for (const auto& s : kSignals) {
    if (s.number == signo) return s.name;
  }
  return "SIG" + std::to_string(signo);
}

std::string command_name(const std::string& text) {
  std::string name;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t begin = text.find_first_not_of(" \t\r\n", start);
    if (begin == std::string::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \t\r\n", begin), text.size());
    std::string word = text.substr(begin, end - begin);
    while (word.size() > 1 && word.back() == '/') word.pop_back();
    if (auto slash = word.rfind('/'); slash != std::string::npos) word = word.substr(slash + 1);
    if (!word.empty()) name += (name.empty() ? "" : " ") + word;
    start = end;
  }
  return name.empty() ? "app" : name;
}

bool looks_like_command(const std::string& text) { return text.find_first_of(" \t") != std::string::npos; }

Result<CommandString> command_string(const std::string& text) {
  auto split = split_shell_words(text);
  if (!split) return Error{split.error()};
  const std::vector<std::string>& words = *split;
  auto assignment = [](const std::string& w) {
    const auto eq = w.find('=');
    return eq != std::string::npos && eq > 0 && w.find('/') > eq;
  };
  const auto program = std::find_if_not(words.begin(), words.end(), assignment);
  if (program == words.end()) return Error{"no program in the command '" + text + "'"};
  const bool shell = program != words.begin() || text.find_first_of("|&;<>()$`\\*?[]{}~") != std::string::npos;
  CommandString c;
  c.program = *program;
  c.argv = shell ? std::vector<std::string>{"/bin/sh", "-c", text} : words;
  return c;
}

std::string default_name(const std::string& script) {
  std::string base = script;
  if (auto slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
  if (auto dot = base.rfind('.'); dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  return base.empty() ? "app" : base;
}

}  // namespace pmx::config
