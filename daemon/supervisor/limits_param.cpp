// Limits param: params.limits read with the app options' own readers.
#include "daemon/supervisor/limits_param.hpp"

#include <nlohmann/json.hpp>

#include "config/app_options.hpp"
#include "config/json_access.hpp"
#include "config/option_reader.hpp"

namespace pmx::daemon {

Result<std::map<std::string, Limits>> limits_param(const nlohmann::json& params) {
  std::map<std::string, Limits> out;
  const nlohmann::json* limits = config::member(params, "limits");
  if (!limits || limits->is_null()) return out;
  if (!limits->is_object()) return Error{"params.limits must be an object of apps"};
  for (const auto& [name, options] : limits->items()) {
    if (!options.is_object()) return Error{"params.limits." + name + " must be an object"};
    // The limit options' own rows of the option table: the same readers and messages as a file's.
    config::OptionReader reader(options);
    config::AppSpec spec;
    for (const char* key : {"cpu_quota", "memory_max", "tasks_max"}) read_option(*config::find_app_option(key), reader, spec);
    if (!reader.error().empty()) return Error{"app '" + name + "': " + reader.error()};
    out[name] = limits_of(spec);
  }
  return out;
}

void set_limits(config::AppSpec& spec, const Limits& limits) {
  spec.cpu_quota = limits.cpu_quota_percent;
  spec.memory_max = limits.memory_max;
  spec.tasks_max = limits.tasks_max;
}

}  // namespace pmx::daemon
