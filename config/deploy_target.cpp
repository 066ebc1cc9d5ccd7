// Reading and checking the deploy section of an ecosystem file.
#include "config/deploy_target.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <tuple>

namespace pmx::config {
namespace {

using json = nlohmann::json;

/// A scalar as text (PM2's configs write ports as numbers or strings); nullopt for anything else.
std::optional<std::string> scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return std::nullopt;
}

/// One string or a list of strings (host, ssh_options).
std::optional<std::vector<std::string>> string_or_list(const json& v) {
  if (v.is_string()) return std::vector<std::string>{v.get<std::string>()};
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

std::vector<std::string> deploy_envs(const json& document) {
  std::vector<std::string> envs;
  if (!document.is_object()) return envs;
  const auto section = document.find("deploy");
  if (section == document.end() || !section->is_object()) return envs;
  for (const auto& [name, value] : section->items()) envs.push_back(name);
  return envs;
}

Result<DeployTarget> deploy_target(const json& document, const std::string& env, const std::string& file,
                                   const std::string& home) {
  const auto section = document.is_object() ? document.find("deploy") : document.end();
  if (!document.is_object() || section == document.end()) return Error{file + ": has no deploy section"};
  if (!section->is_object()) return Error{file + ": deploy: expected an object of environments"};
  const auto found = section->find(env);
  if (found == section->end()) {
    std::string known;
    for (const auto& name : deploy_envs(document)) known += (known.empty() ? "" : ", ") + name;
    return Error{file + ": deploy: no environment '" + env + "'" + (known.empty() ? "" : " (it has: " + known + ")")};
  }
  if (!found->is_object()) return Error{file + ": deploy." + env + ": expected an object"};
  const json& t = *found;
  const std::string where = file + ": deploy." + env + ": ";

  DeployTarget target;
  target.env = env;
  const auto text = [&](const char* key, std::string& into, bool required) -> std::optional<Error> {
    const auto it = t.find(key);
    if (it == t.end() || it->is_null()) {
      if (required) return Error{where + "'" + key + "' is required"};
      return std::nullopt;
    }
    auto value = scalar_text(*it);
    if (!value) return Error{where + "'" + key + "': expected a string"};
    into = *value;
    if (required && into.empty()) return Error{where + "'" + key + "' is empty"};
    return std::nullopt;
  };
  for (auto [key, into, required] : {std::tuple{"user", &target.user, false}, std::tuple{"port", &target.port, false},
                                     std::tuple{"key", &target.key, false}, std::tuple{"ref", &target.ref, true},
                                     std::tuple{"repo", &target.repo, true}, std::tuple{"path", &target.path, true}}) {
    if (auto error = text(key, *into, required)) return *error;
  }
  if (!target.port.empty() && !std::all_of(target.port.begin(), target.port.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return Error{where + "'port': expected a number, got '" + target.port + "'"};
  }
  if (target.key.starts_with("~/")) target.key = home + target.key.substr(1);

  const auto host = t.find("host");
  if (host == t.end()) return Error{where + "'host' is required"};
  auto hosts = string_or_list(*host);
  if (!hosts || hosts->empty()) return Error{where + "'host': expected a host name or a list of them"};
  for (const auto& h : *hosts) {
    if (h.empty() || h.front() == '-') return Error{where + "'host': '" + h + "' is not a host name"};
  }
  target.hosts = std::move(*hosts);

  if (const auto opts = t.find("ssh_options"); opts != t.end() && !opts->is_null()) {
    auto list = string_or_list(*opts);
    if (!list) return Error{where + "'ssh_options': expected a string or a list of strings"};
    target.ssh_options = std::move(*list);
  }
  if (const auto agent = t.find("forward-agent"); agent != t.end() && !agent->is_null()) {
    target.forward_agent = !(agent->is_boolean() && !agent->get<bool>()) && !(agent->is_string() && agent->get<std::string>().empty());
  }
  if (const auto fetch = t.find("fetch"); fetch != t.end() && fetch->is_string()) target.fast_fetch = *fetch == "fast";

  for (const char* hook : kDeployHooks) {
    std::string command;
    if (auto error = text(hook, command, false)) return *error;
    if (!command.empty()) target.hooks[hook] = command;
  }
  if (!target.hooks.contains("post-deploy")) {
    target.hooks["post-deploy"] = "pmx startOrRestart " + file + " --env " + env;
  }

  if (const auto vars = t.find("env"); vars != t.end() && !vars->is_null()) {
    if (!vars->is_object()) return Error{where + "'env': expected an object of NAME: value"};
    for (const auto& [name, value] : vars->items()) {
      auto v = scalar_text(value);
      if (!v) return Error{where + "'env." + name + "': expected a string or a number"};
      std::string upper = name;  // PM2 exports the names upper-cased
      std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
      const bool valid = !upper.empty() && !std::isdigit(static_cast<unsigned char>(upper[0])) &&
                         std::all_of(upper.begin(), upper.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
      if (!valid) return Error{where + "'env': '" + name + "' is not a variable name"};
      target.env_vars.emplace_back(upper, *v);
    }
  }
  return target;
}

}  // namespace pmx::config
