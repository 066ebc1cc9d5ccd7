// The dump's format, and the import of PM2's.
#include "config/dump.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "config/json_access.hpp"
#include "config/json_depth.hpp"

namespace pmx::config {
namespace {

using json = nlohmann::json;

constexpr int kDumpVersion = 1;

Result<Env> env_of(const json& j, const std::string& what) {
  Env env;
  if (j.is_null()) return env;
  if (!j.is_object()) return Error{what + " must be an object"};
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) env.emplace(k, v.get<std::string>());
    else if (v.is_number() || v.is_boolean()) env.emplace(k, v.dump());
    // Objects and arrays are no environment variable (PM2 keeps some of its own there).
  }
  if (auto valid = validate_env(env); !valid) return Error{what + ": " + valid.error()};
  return env;
}

/// PM2's own variables in a process's env: not the app's, nor the caller's.
bool pm2_variable(const std::string& key, const std::string& app_name) {
  static const char* const kOwn[] = {"PM2_HOME", "PM2_USAGE", "PM2_JSON_PROCESSING", "PM2_INTERACTOR_PROCESSING",
                                     "PM2_PROGRAMMATIC", "PM2_DISCRETE_MODE", "unique_id", "pm_id", "_"};
  if (key == app_name) return true;  // PM2 stores the app's env again under its name
  return std::find(std::begin(kOwn), std::end(kOwn), key) != std::end(kOwn);
}

/// j[key] when it is a string, else "".
std::string text_of(const json& j, const char* key) { return std::string(string_at(j, key).value_or("")); }

}  // namespace

std::string encode_dump(const std::vector<SavedInstance>& instances, const std::string& saved_at) {
  json apps = json::array();
  for (const auto& in : instances) {
    apps.push_back({{"pm_id", in.pm_id},
                    {"status", in.stopped ? "stopped" : "online"},
                    {"spec", to_json(in.spec)},
                    {"env", in.env}});
  }
  json doc{{"pmx_dump", kDumpVersion}, {"saved_at", saved_at}, {"apps", apps}};
  return doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<std::vector<SavedInstance>> decode_dump(const std::string& text) {
  if (text.empty()) return Error{"the file is empty"};
  if (auto depth = check_json_depth(text); !depth) return Error{depth.error()};
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Error{"not valid JSON (truncated or corrupt)"};
  if (!doc.is_object() || !doc.contains("pmx_dump")) return Error{"not a pmx dump (no 'pmx_dump' field)"};
  if (const json& format = *member(doc, "pmx_dump"); as_int(format, kDumpVersion, kDumpVersion) != kDumpVersion) {
    return Error{"dump format " + format.dump() + " is not one this pmx reads"};
  }
  auto apps = doc.find("apps");
  if (apps == doc.end() || !apps->is_array()) return Error{"'apps' must be a list"};
  std::vector<SavedInstance> out;
  for (const auto& a : *apps) {
    const std::string at = "apps[" + std::to_string(out.size()) + "]";
    if (!a.is_object()) return Error{at + " must be an object"};
    SavedInstance in;
    const json* spec_json = member(a, "spec");
    auto spec = spec_from_json(spec_json ? *spec_json : json());
    if (!spec) return Error{at + ": " + spec.error()};
    in.spec = std::move(*spec);
    const json* env_json = member(a, "env");
    auto env = env_of(env_json ? *env_json : json(), at + ".env");
    if (!env) return Error{env.error()};
    in.env = std::move(*env);
    const json* id = member(a, "pm_id");
    const auto pm_id = id ? as_int(*id, -1, kMaxPmId) : std::optional<std::int64_t>(-1);
    if (!pm_id) return Error{at + ".pm_id must be an integer between -1 and " + std::to_string(kMaxPmId)};
    in.pm_id = static_cast<int>(*pm_id);
    in.stopped = text_of(a, "status") == "stopped";
    out.push_back(std::move(in));
  }
  return out;
}

Result<std::vector<SavedInstance>> from_pm2_dump(const std::string& text) {
  if (auto depth = check_json_depth(text); !depth) return Error{depth.error()};
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Error{"not valid JSON (truncated or corrupt)"};
  if (!doc.is_array()) return Error{"not a PM2 dump (a list of processes was expected)"};
  std::vector<SavedInstance> out;
  for (const auto& p : doc) {
    const std::string at = "process " + std::to_string(out.size());
    if (!p.is_object()) return Error{at + " is not an object"};
    if (auto module = p.find("pmx_module"); module != p.end() && *module == true) continue;  // PM2 modules (pm2-logrotate) are PM2's own
    // The options PM2 keeps under their own names, then the ones it renames.
    json options = json::object();
    for (const auto& [k, v] : p.items()) {
      const std::string canonical = canonical_option(k);
      if (!canonical.empty() && canonical != "env" && !canonical.starts_with("env_")) options[canonical] = v;
    }
    const std::string name = text_of(p, "name");
    options["name"] = name;
    for (const auto& [theirs, ours] : {std::pair{"pm_exec_path", "script"}, std::pair{"pm_cwd", "cwd"},
                                       std::pair{"exec_interpreter", "interpreter"}, std::pair{"node_args", "interpreter_args"},
                                       std::pair{"pm_out_log_path", "out_file"}, std::pair{"pm_err_log_path", "error_file"}}) {
      if (const json* v = member(p, theirs)) options[ours] = *v;  // its type is checked by spec_from_json
    }
    // One entry per process: PM2 saves every instance of a cluster on its own.
    options["instances"] = 1;
    options.erase("pid_file");  // PM2's pid paths live in ~/.pm2
    if (text_of(options, "exec_mode") == "cluster_mode") options["exec_mode"] = "cluster";
    if (text_of(options, "exec_mode") == "fork_mode") options["exec_mode"] = "fork";
    // PM2 keeps the values of the fields it knows as numbers (bytes, ms) or null.
    for (auto it = options.begin(); it != options.end();) {
      if (it->is_null()) it = options.erase(it);
      else ++it;
    }
    SavedInstance in;
    SpecError error;
    auto spec = spec_from_json(options, error);
    if (!spec) return Error{at + " ('" + name + "'): " + spec.error()};
    in.spec = std::move(*spec);
    in.spec.instances = 1;
    Env env;
    const json* env_json = member(p, "env");
    if (auto e = env_of(env_json ? *env_json : json::object(), at + " ('" + name + "') env"); e) env = std::move(*e);
    else return Error{e.error()};
    std::erase_if(env, [&](const auto& kv) { return pm2_variable(kv.first, name); });
    in.env = std::move(env);
    // PM2's id when it is one pmx can give again, else any.
    in.pm_id = static_cast<int>(int_at(p, "pm_id", -1, kMaxPmId).value_or(-1));
    in.stopped = text_of(p, "status") == "stopped";
    out.push_back(std::move(in));
  }
  return out;
}

}  // namespace pmx::config
