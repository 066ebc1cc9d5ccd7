// The verbs given an ecosystem file, and `pmx ecosystem`.
#include "cli/file_verbs.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "cli/autostart.hpp"
#include "cli/commands.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/ecosystem_file.hpp"
#include "cli/start_verb.hpp"
#include "config/dependency_graph.hpp"
#include "config/ecosystem.hpp"
#include "config/paths.hpp"

namespace pmx::cli {

namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

config::Ecosystem load_file(const std::string& arg, const FileOptions& fo, bool starts) {
  auto eco = read_ecosystem(arg, config::LoadOptions{fo.env, split_commas(fo.only), companion_binary("pmx-serve", "serve"),
                                                     /*only_with_dependencies=*/starts});
  if (!eco) throw Failure(kUsage, eco.error());
  for (const auto& w : eco->warnings) std::cerr << "pmx: warning: " << w << "\n";
  for (const auto& app : eco->apps) warn_unsupported(app);
  return std::move(*eco);
}

/// A name in depends_on that is neither an app of the file nor one pmxd has is a configuration
/// error, with the file and line of the option; nothing is started.
void check_dependencies(const config::Ecosystem& eco, const std::set<std::string>& registered) {
  config::DependencyGraph graph;
  for (const auto& app : eco.apps) graph.push_back({app.name, app.depends_on});
  std::string errors;
  for (const auto& unknown : config::unknown_dependencies(graph, registered)) {
    auto at = eco.depends_on_at.find(unknown.app);
    errors += (errors.empty() ? "" : "\n") + (at == eco.depends_on_at.end() ? "" : at->second) + "app '" + unknown.app +
              "': option 'depends_on' names '" + unknown.name + "', which is no app of the file nor of pmx";
  }
  if (!errors.empty()) throw Failure(kUsage, errors);
}

}  // namespace

int run_on_file(DaemonConnection& s, const FileAction& action, const std::string& arg, const FileOptions& fo) {
  const config::Ecosystem eco = load_file(arg, fo, action.starts_new);
  std::set<std::string> registered;
  for (const auto& app : s.call_entries("list")) registered.insert(app.value("name", ""));
  if (action.starts_new) check_dependencies(eco, registered);

  json to_start = json::array();
  json restart_names = json::array();
  json all_names = json::array();
  for (const auto& app : eco.apps) {
    all_names.push_back(app.name);
    const bool known = registered.count(app.name) > 0;
    if (action.starts_new) {
      // As PM2: starting a file again restarts its apps that pmx has (the usual deploy is
      // `git pull && pmx start ecosystem.config.js`); -f starts new copies instead.
      if (known && !(action.force_starts_copies && fo.force)) restart_names.push_back(app.name);
      else to_start.push_back(config::to_json(app));
    } else if (action.restart != nullptr) {
      restart_names.push_back(app.name);
    }
  }
  if (action.every_app != nullptr) {
    s.call(action.every_app, {{"targets", all_names}});
  }
  json settled = json::array();  // the entries of every app restarted or started
  auto add = [&](const json& entries) {
    for (const auto& e : entries) settled.push_back(e);
  };
  if (!restart_names.empty()) {
    const char* restart_verb = action.restart;
    // The file's cgroup limits, by app: a restart from the file applies them again.
    json limits = json::object();
    for (const auto& app : eco.apps) {
      const json j = config::to_json(app);
      json& mine = limits[app.name] = json::object();
      for (const char* key : {"cpu_quota", "memory_max", "tasks_max"}) {
        if (j.contains(key)) mine[key] = j[key];
      }
    }
    if (fo.update_env) {
      // Each app gets the caller's environment and its env from the file again.
      for (const auto& app : eco.apps) {
        if (std::find(restart_names.begin(), restart_names.end(), app.name) == restart_names.end()) continue;
        add(s.call(restart_verb, {{"targets", json::array({app.name})}, {"env", caller_env()}, {"app_env", app.env},
                                   {"limits", {{app.name, limits[app.name]}}}}));
      }
    } else {
      add(s.call_entries(restart_verb, {{"targets", restart_names}, {"limits", limits}}));
    }
  }
  if (!to_start.empty()) add(s.call_entries("start", {{"apps", to_start}, {"env", caller_env()}, {"force", fo.force}}));
  s.show_list();
  return report_errored(settled);
}

int run_ecosystem(Invocation&) {
  const std::string path = "ecosystem.yaml";
  if (config::is_regular_file(path)) throw Failure(kFailed, path + " already exists; not overwriting it");
  std::ofstream out(path);
  out << config::example_ecosystem_yaml();
  if (!out) throw Failure(kFailed, "cannot write " + path);
  std::cout << "wrote " << path << ": edit it, then `pmx start " << path << "`\n";
  return kOk;
}

}  // namespace pmx::cli
