// Instance: what an instance derives from its spec and state.
#include "daemon/instance/instance.hpp"

#include "config/listen_address.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace pmx::daemon {

bool Instance::keeps_caller_var(const std::string& key) const {
  return caller_env && !spec.filter_env_all &&
         std::none_of(spec.filter_env.begin(), spec.filter_env.end(),
                      [&](const std::string& prefix) { return key.rfind(prefix, 0) == 0; });
}

const std::string* Instance::caller_var(const std::string& key) const {
  if (!caller_env) return nullptr;
  auto it = caller_env->find(key);
  return it != caller_env->end() && keeps_caller_var(key) ? &it->second : nullptr;
}

config::Env Instance::environment(const std::string& home) const {
  config::Env env = own_environment(home);
  if (caller_env) {
    for (const auto& [k, v] : *caller_env) {
      if (keeps_caller_var(k)) env.emplace(k, v);  // what the app or PM2 sets wins
    }
  }
  return env;
}

config::Env Instance::own_environment(const std::string& home) const {
  const auto& s = spec;
  config::Env env = s.env;
  if (s.port > 0) env["PORT"] = std::to_string(s.port);
  if (!s.increment_var.empty()) {
    // PM2: the variable's value (from the app's env, default 0) plus the instance's index.
    // The value may come from the caller's environment, which config never saw: anything that
    // is not a number in range counts as 0 rather than overflowing.
    auto base = env.find(s.increment_var);
    const std::string* base_value = base != env.end() ? &base->second : caller_var(s.increment_var);
    long long start = 0;
    if (base_value) {
      errno = 0;
      char* end = nullptr;
      start = std::strtoll(base_value->c_str(), &end, 10);
      if (errno != 0 || end == base_value->c_str() || *end != '\0' || start < -config::kMaxIncrementBase ||
          start > config::kMaxIncrementBase) {
        start = 0;
      }
    }
    env[s.increment_var] = std::to_string(start + app_instance);
  }
  env["pm_id"] = std::to_string(id);
  env["name"] = s.name;
  env["namespace"] = s.namespace_;
  env[s.instance_var] = std::to_string(app_instance);
  env["unique_id"] = unique_id;
  env["PMX_HOME"] = home;
  env["pm_exec_path"] = s.script;
  env["pm_cwd"] = s.cwd;
  env["pm_out_log_path"] = out_path;
  env["pm_err_log_path"] = err_path;
  env["pm_pid_path"] = pid_path;
  env["exec_mode"] = config::exec_mode_name(s);
  env["instances"] = std::to_string(s.instances);
  env["restart_time"] = std::to_string(fsm.restart_count());
  env["status"] = "online";
  env["created_at"] = std::to_string(created_at_ms);
  if (s.interpreter.find("python") != std::string::npos && !caller_var("PYTHONUNBUFFERED")) {
    env.emplace("PYTHONUNBUFFERED", "1");  // unless the app or the caller says otherwise
  }
  return env;
}

std::string label(const Instance& in) { return in.spec.name + ":" + std::to_string(in.id); }

std::string how_it_ended(const ExitStatus& exit) {
  if (exit.unknown) return "exited (not pmxd's child: code unknown)";
  if (exit.signal) return "killed by " + config::signal_name(exit.signal);
  return "exited with code " + std::to_string(exit.code);
}

std::string no_ready_message(const config::AppSpec& spec) {
  return "no ready message came within listen_timeout " + std::to_string(spec.listen_timeout_ms) +
         " ms (wait_ready: process.send('ready') or sd_notify READY=1); online anyway";
}

}  // namespace pmx::daemon
