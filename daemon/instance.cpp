// Instance: what an instance derives from its spec and state.
#include "daemon/instance.hpp"

namespace pmx::daemon {

config::Env Instance::environment(const std::string& home) const {
  const auto& s = spec;
  config::Env env = caller_env ? *caller_env : config::Env{};
  for (const auto& [k, v] : s.env) env[k] = v;
  env["pm_id"] = std::to_string(id);
  env["name"] = s.name;
  env["namespace"] = s.namespace_;
  env["NODE_APP_INSTANCE"] = std::to_string(app_instance);
  env["unique_id"] = unique_id;
  env["PMX_HOME"] = home;
  env["pm_exec_path"] = s.script;
  env["pm_cwd"] = s.cwd;
  env["pm_out_log_path"] = out_path;
  env["pm_err_log_path"] = err_path;
  env["pm_pid_path"] = pid_path;
  env["exec_mode"] = "fork_mode";
  env["instances"] = std::to_string(s.instances);
  env["restart_time"] = std::to_string(fsm.restart_count());
  env["status"] = "online";
  env["created_at"] = std::to_string(created_at_ms);
  if (s.interpreter.find("python") != std::string::npos) env.emplace("PYTHONUNBUFFERED", "1");
  return env;
}

}  // namespace pmx::daemon
