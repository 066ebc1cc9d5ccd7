// What `pmx deploy` runs on a host: the shell script for each action, in PM2's remote layout
// (<path>/source: the clone; <path>/current: a link to it; <path>/shared: logs/ and pids/ kept
// across deploys; <path>/.deploys: the commit of every deploy, one per line), so a host set up
// by `pm2 deploy` is updated by pmx and back. Pure: the scripts are text, tested as text and run
// by deploy_verb.cpp through ssh.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/deploy_target.hpp"

namespace pmx::cli {

enum class DeployAction { Setup, Update, Revert, Current, Previous, List, Exec };

struct DeployRequest {
  DeployAction action = DeployAction::Update;
  std::string ref;      ///< Update: the ref to deploy (the target's ref unless `ref <ref>` was given)
  int revert = 1;       ///< Revert: go back this many deploys
  std::string command;  ///< Exec: run in <path>/current
  /// Setup: the text of the pre-setup hook when its first word names a local file (PM2 runs
  /// such a script on the host); empty when the hook is a command run there.
  std::string pre_setup_script;
};

/// s as one word of a POSIX shell command line ('...', with ' as '\'').
std::string shell_quote(std::string_view s);

/// The branch a ref names for `git clone --branch` at setup: origin/main -> main, as PM2 takes it.
std::string branch_of(const std::string& ref);

/// The script for request on a host of target, run there by `/bin/sh -s` (read whole before it
/// runs, so no command of it reads the rest as its input). Every step that fails ends it with
/// that step's exit code and a line naming it.
std::string remote_script(const config::DeployTarget& target, const DeployRequest& request);

/// ssh's argv to run the script on host: ssh [-o opt]... [-A] [-p port] [-i key] [user@]host /bin/sh -s
std::vector<std::string> ssh_argv(const config::DeployTarget& target, const std::string& host);

}  // namespace pmx::cli
