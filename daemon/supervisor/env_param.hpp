// Env params: an environment a client sends (the caller's `env` of start, restart and reload,
// the app's `app_env` of a restart from an ecosystem file), checked as config checks one.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "config/app_spec.hpp"
#include "config/result.hpp"

namespace pmx::daemon {

/// j as an environment: an object of strings whose names and values config accepts. The error
/// names what (e.g. "params.env") and the variable.
Result<config::Env> env_from_json(const nlohmann::json& j, const char* what);

}  // namespace pmx::daemon
