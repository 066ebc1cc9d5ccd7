// The `deploy` section of an ecosystem file, PM2's format: where and how `pmx deploy <file>
// <env>` puts a git repository on hosts over ssh, and the hooks it runs there.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/result.hpp"

namespace pmx::config {

/// One environment of the deploy section (deploy.production, deploy.staging, ...).
struct DeployTarget {
  std::string env;                       ///< its name in the section
  std::string user;                      ///< ssh user; empty: ssh's default
  std::vector<std::string> hosts;        ///< `host`: one or a list, deployed one after another
  std::string port;                      ///< ssh port; empty: ssh's default
  std::string key;                       ///< identity file, `~` already expanded
  std::vector<std::string> ssh_options;  ///< each given to ssh as `-o <option>`
  bool forward_agent = false;            ///< `forward-agent`: ssh -A
  std::string ref;                       ///< what to deploy: origin/main, a tag, a commit
  std::string repo;                      ///< what `git clone` is given
  std::string path;                      ///< the folder on each host: source/, current, shared/
  bool fast_fetch = false;               ///< `fetch: fast`: clone and fetch with --depth=5
  std::map<std::string, std::string> hooks;  ///< pre-setup, post-setup, pre-deploy-local, pre-deploy, post-deploy
  std::vector<std::pair<std::string, std::string>> env_vars;  ///< `env`, exported before post-deploy
};

/// The names of the hooks a target may have, in the order a deploy runs them.
inline constexpr const char* kDeployHooks[] = {"pre-setup", "post-setup", "pre-deploy-local", "pre-deploy",
                                               "post-deploy"};

/// The environments the document's deploy section names, in file order.
std::vector<std::string> deploy_envs(const nlohmann::json& document);

/// The target env of the document's deploy section, checked: host, repo, path and ref are
/// required (as PM2 requires them), every value has its type; an error names the file, the
/// environment and the option. home expands a leading `~` of key. Without a post-deploy hook,
/// the target gets PM2's default with pmx's name: `pmx startOrRestart <file> --env <env>`.
Result<DeployTarget> deploy_target(const nlohmann::json& document, const std::string& env, const std::string& file,
                                   const std::string& home);

}  // namespace pmx::config
