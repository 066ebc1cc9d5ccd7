// Env params: each variable a string; a dump, which PM2 wrote, is read more loosely (config/dump).
#include "daemon/supervisor/env_param.hpp"

#include <nlohmann/json.hpp>

namespace pmx::daemon {

Result<config::Env> env_from_json(const nlohmann::json& j, const char* what) {
  if (!j.is_object()) return Error{std::string(what) + " must be an object of strings"};
  config::Env env;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return Error{std::string(what) + "." + k + " must be a string"};
    env.emplace(k, v.get<std::string>());
  }
  if (auto ok = config::validate_env(env); !ok) return Error{std::string(what) + ": " + ok.error()};
  return env;
}

}  // namespace pmx::daemon
