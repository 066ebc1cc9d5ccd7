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

#include "config/app_options.hpp"
#include "config/listen_address.hpp"
#include "config/option_reader.hpp"
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
  json j = json::object();
  for (const AppOption& option : app_options()) {
    // Null is what the row leaves out: an unset rotation option, whose pmx.yaml default applies.
    if (json v = option_value(option, s); !v.is_null()) j[option.name] = std::move(v);
  }
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
  OptionReader r(j);
  if (r.find("name") == nullptr && r.find("script") != nullptr) {
    // The CLI and the file loaders default it to the script's name; a request must say it.
    error = SpecError{"name", "option 'name': required (every app has a name; pmx start and ecosystem files "
                              "default it to the script's file name)"};
    return Error{error.message};
  }
  for (const AppOption& option : app_options()) read_option(option, r, s);
  // `instances` without an exec_mode: decided here when the interpreter is given (the
  // ecosystem loader decides again once it has chosen one). to_json writes the decision down.
  if (!r.find("exec_mode") && r.find("instances")) apply_cluster_rule(s);
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
  const AppOption* option = find_app_option(key);
  return option ? option->name : "";
}

const std::vector<std::string>& option_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const AppOption& option : app_options()) out.push_back(option.name);
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
