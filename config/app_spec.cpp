// AppSpec <-> JSON with PM2's option names, aliases and validation.
#include "config/app_spec.hpp"

#include <csignal>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

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

// Reads one option, trying its PM2 name and then its aliases; records the first type error.
class Reader {
 public:
  explicit Reader(const json& j) : j_(j) {}

  const json* find(std::initializer_list<const char*> keys) const {
    for (const char* k : keys) {
      auto it = j_.find(k);
      if (it != j_.end() && !it->is_null()) return &*it;
    }
    return nullptr;
  }

  void fail(const char* key, const std::string& expected) {
    if (error_.empty()) error_ = "option '" + std::string(key) + "': expected " + expected;
  }
  void fail_msg(const char* key, const std::string& message) {
    if (error_.empty()) error_ = "option '" + std::string(key) + "': " + message;
  }

  void string(std::initializer_list<const char*> keys, std::string& out) {
    if (const json* v = find(keys)) {
      if (v->is_string()) out = v->get<std::string>();
      else fail(*keys.begin(), "a string");
    }
  }

  void boolean(std::initializer_list<const char*> keys, bool& out) {
    if (const json* v = find(keys)) {
      if (v->is_boolean()) out = v->get<bool>();
      else if (v->is_string() && (*v == "true" || *v == "false")) out = (*v == "true");
      else fail(*keys.begin(), "true or false");
    }
  }

  void integer(std::initializer_list<const char*> keys, int& out, int min) {
    if (const json* v = find(keys)) {
      long long n = 0;
      if (v->is_number_integer()) n = v->get<long long>();
      else if (v->is_string()) {
        try {
          std::size_t used = 0;
          n = std::stoll(v->get<std::string>(), &used);
          if (used != v->get_ref<const std::string&>().size()) throw std::invalid_argument("");
        } catch (const std::exception&) {
          return fail(*keys.begin(), "an integer");
        }
      } else {
        return fail(*keys.begin(), "an integer");
      }
      if (n < min || n > std::numeric_limits<int>::max()) {
        return fail(*keys.begin(), "an integer >= " + std::to_string(min));
      }
      out = static_cast<int>(n);
    }
  }

  void duration(std::initializer_list<const char*> keys, std::uint64_t& out) {
    if (const json* v = find(keys)) {
      if (v->is_number_unsigned()) out = v->get<std::uint64_t>();
      else if (v->is_number_integer()) {
        if (v->get<long long>() < 0) return fail(*keys.begin(), "a duration >= 0 (ms, or 5s, 2m, 1h)");
        out = static_cast<std::uint64_t>(v->get<long long>());
      } else if (v->is_number_float()) {
        double d = v->get<double>();
        if (!(d >= 0 && d < 1.8e19)) return fail(*keys.begin(), "a duration >= 0 (ms, or 5s, 2m, 1h)");
        out = static_cast<std::uint64_t>(d);
      } else if (v->is_string()) {
        auto r = parse_duration_ms(v->get<std::string>());
        if (r) out = *r;
        else fail_msg(*keys.begin(), r.error());
      } else {
        fail(*keys.begin(), "a duration (ms, or 5s, 2m, 1h)");
      }
    }
  }

  void size(std::initializer_list<const char*> keys, std::uint64_t& out) {
    if (const json* v = find(keys)) {
      if (v->is_number_unsigned()) out = v->get<std::uint64_t>();
      else if (v->is_number_integer() && v->get<long long>() >= 0) out = static_cast<std::uint64_t>(v->get<long long>());
      else if (v->is_string()) {
        auto r = parse_size(v->get<std::string>());
        if (r) out = *r;
        else fail_msg(*keys.begin(), r.error());
      } else {
        fail(*keys.begin(), "a size (bytes, or 200K, 150M, 1G)");
      }
    }
  }

  // A list of strings, or one string split on whitespace with shell quoting.
  void words(std::initializer_list<const char*> keys, std::vector<std::string>& out) {
    if (const json* v = find(keys)) {
      if (v->is_string()) {
        auto r = split_shell_words(v->get<std::string>());
        if (r) out = *r;
        else fail_msg(*keys.begin(), r.error());
      } else if (v->is_array()) {
        out.clear();
        for (const auto& item : *v) {
          if (item.is_string()) out.push_back(item.get<std::string>());
          else if (item.is_number()) out.push_back(item.dump());
          else return fail(*keys.begin(), "a string or a list of strings");
        }
      } else {
        fail(*keys.begin(), "a string or a list of strings");
      }
    }
  }

  void env(std::initializer_list<const char*> keys, Env& out) {
    if (const json* v = find(keys)) {
      if (!v->is_object()) return fail(*keys.begin(), "an object of NAME: value");
      for (const auto& [k, val] : v->items()) {
        if (val.is_string()) out[k] = val.get<std::string>();
        else if (val.is_number() || val.is_boolean()) out[k] = val.dump();
        else if (val.is_null()) out[k] = "";
        else out[k] = val.dump();  // PM2 passes objects as JSON text
      }
    }
  }

  void int_list(std::initializer_list<const char*> keys, std::vector<int>& out) {
    if (const json* v = find(keys)) {
      out.clear();
      const json one = v->is_array() ? json() : json::array({*v});
      if (!v->is_array() && !v->is_number_integer()) {
        return fail(*keys.begin(), "an exit code or a list of exit codes");
      }
      for (const auto& item : v->is_array() ? *v : one) {
        if (!item.is_number_integer() || item.get<long long>() < 0 || item.get<long long>() > 255) {
          return fail(*keys.begin(), "exit codes between 0 and 255");
        }
        out.push_back(static_cast<int>(item.get<long long>()));
      }
    }
  }

  const std::string& error() const { return error_; }

 private:
  const json& j_;
  std::string error_;
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
  return json{
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
  };
}

Result<AppSpec> spec_from_json(const json& j) {
  if (!j.is_object()) return Error{"an app must be an object of options"};
  AppSpec s;
  Reader r(j);
  r.string({"name"}, s.name);
  r.string({"script", "exec", "cmd", "command"}, s.script);
  r.words({"args"}, s.args);
  r.string({"interpreter", "exec_interpreter", "execInterpreter"}, s.interpreter);
  if (s.interpreter == "none") s.interpreter.clear();
  r.words({"interpreter_args", "node_args", "interpreterArgs", "nodeArgs"}, s.interpreter_args);
  r.string({"cwd"}, s.cwd);
  r.string({"namespace"}, s.namespace_);
  r.integer({"instances"}, s.instances, 1);
  r.env({"env"}, s.env);
  r.boolean({"autorestart"}, s.autorestart);
  r.integer({"max_restarts", "maxRestarts"}, s.max_restarts, 0);
  r.duration({"min_uptime", "minUptime"}, s.min_uptime_ms);
  r.duration({"restart_delay", "restartDelay"}, s.restart_delay_ms);
  r.duration({"exp_backoff_restart_delay", "expBackoffRestartDelay"}, s.exp_backoff_restart_delay_ms);
  r.duration({"exp_backoff_restart_delay_max", "expBackoffRestartDelayMax"}, s.exp_backoff_max_ms);
  r.int_list({"stop_exit_codes", "stopExitCodes"}, s.stop_exit_codes);
  r.duration({"kill_timeout", "killTimeout"}, s.kill_timeout_ms);
  r.string({"kill_signal", "killSignal"}, s.kill_signal);
  r.size({"max_memory_restart", "maxMemoryRestart"}, s.max_memory_restart);
  r.string({"out_file", "output", "outFile"}, s.out_file);
  r.string({"error_file", "error", "errorFile", "err_file"}, s.error_file);
  r.string({"pid_file", "pid", "pidFile"}, s.pid_file);
  if (!r.error().empty()) return Error{r.error()};
  auto valid = validate(s);
  if (!valid) return Error{valid.error()};
  return s;
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

std::string file_safe_name(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-';
    if (!keep) c = '-';
  }
  return out;
}

std::string default_name(const std::string& script) {
  std::string base = script;
  if (auto slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
  if (auto dot = base.rfind('.'); dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  return base.empty() ? "app" : base;
}

}  // namespace pmx::config
