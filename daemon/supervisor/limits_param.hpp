// Limits param: the cgroup limits (cpu_quota, memory_max, tasks_max) a restart or reload from an
// ecosystem file gives each of its apps again, read from the request.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "config/app_spec.hpp"
#include "config/result.hpp"
#include "daemon/process/resource_limits.hpp"

namespace pmx::daemon {

/// params.limits, by app name: {"api": {"cpu_quota": "50%", "memory_max": "64M", "tasks_max": 16}};
/// an option absent from an app's object is no limit. Empty when params has no limits. The
/// error names the app and the option.
Result<std::map<std::string, Limits>> limits_param(const nlohmann::json& params);

/// Sets the limit options of spec.
void set_limits(config::AppSpec& spec, const Limits& limits);

}  // namespace pmx::daemon
