// The scripts `pmx deploy` runs on hosts (see deploy_script.hpp).
#include "cli/deploy_script.hpp"

namespace pmx::cli {
namespace {

/// Defines p (the target's path), fail and hook; every line after it may use them. A hook runs
/// in <path>/current (where PM2 runs them) with SHARED set, under the user's login shell.
std::string prelude(const config::DeployTarget& t) {
  return "p=" + shell_quote(t.path) + "\n"
         "fail() { echo \"pmx deploy: $1\" >&2; exit \"${2:-1}\"; }\n"
         "hook() {\n"
         "  echo \"--> $1: $2\"\n"
         "  (cd \"$p/current\" && SHARED=\"$p/shared\" && export SHARED && exec \"${SHELL:-/bin/sh}\" -c \"$2\") ||\n"
         "    fail \"the $1 hook failed (exit $?)\" $?\n"
         "}\n";
}

std::string hook_line(const config::DeployTarget& t, const char* name) {
  const auto it = t.hooks.find(name);
  if (it == t.hooks.end()) return "";
  return std::string("hook ") + name + " " + shell_quote(it->second) + "\n";
}

/// The nth deploy from the end of .deploys (1 = the current one) into $commit.
std::string nth_deploy(int n) {
  const std::string count = std::to_string(n);
  return "[ -s \"$p/.deploys\" ] || fail \"no deploy recorded in $p/.deploys yet\"\n"
         "[ \"$(wc -l < \"$p/.deploys\")\" -ge " + count + " ] || fail \"$p/.deploys records fewer than " + count +
         " deploys\"\n"
         "commit=$(tail -n " + count + " \"$p/.deploys\" | head -n 1 | cut -d ' ' -f 1)\n";
}

/// Fetch, reset to $ref, link current, record the commit, post-deploy: PM2's deploy, in its order.
std::string deploy_steps(const config::DeployTarget& t) {
  std::string s = hook_line(t, "pre-deploy");
  s += "cd \"$p/source\" || fail \"$p/source does not exist: run setup first\"\n";
  s += "echo \"--> fetching\"\n";
  s += std::string("git fetch ") + (t.fast_fetch ? "--depth=5 " : "") + "--all --tags || fail \"git fetch failed\" $?\n";
  s += "echo \"--> resetting to $ref\"\n";
  s += "git reset --hard \"$ref\" || fail \"git reset --hard $ref failed\" $?\n";
  s += "ln -sfn \"$p/source\" \"$p/current\" || fail \"could not link $p/current\" $?\n";
  s += "git rev-parse HEAD >> \"$p/.deploys\" || fail \"could not record the deploy in $p/.deploys\" $?\n";
  for (const auto& [name, value] : t.env_vars) s += "export " + name + "=" + shell_quote(value) + "\n";
  s += hook_line(t, "post-deploy");
  s += "echo \"--> deployed $ref ($(git rev-parse --short HEAD))\"\n";
  return s;
}

}  // namespace

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string branch_of(const std::string& ref) {
  const auto slash = ref.find('/');
  return slash == std::string::npos ? ref : ref.substr(slash + 1);
}

std::string remote_script(const config::DeployTarget& t, const DeployRequest& r) {
  std::string body = prelude(t);
  switch (r.action) {
    case DeployAction::Setup: {
      if (!r.pre_setup_script.empty()) {
        std::string delimiter = "PMX_PRE_SETUP";
        while (r.pre_setup_script.find(delimiter) != std::string::npos) delimiter += "_";
        body += "echo \"--> pre-setup: a local script\"\n";
        body += "\"${SHELL:-/bin/sh}\" -s <<'" + delimiter + "' || fail \"the pre-setup script failed (exit $?)\" $?\n" +
                r.pre_setup_script + (r.pre_setup_script.ends_with('\n') ? "" : "\n") + delimiter + "\n";
      } else if (const auto it = t.hooks.find("pre-setup"); it != t.hooks.end()) {
        body += "echo \"--> pre-setup: \"" + shell_quote(it->second) + "\n";
        body += "\"${SHELL:-/bin/sh}\" -c " + shell_quote(it->second) + " || fail \"the pre-setup hook failed (exit $?)\" $?\n";
      }
      body += "mkdir -p \"$p/shared/logs\" \"$p/shared/pids\" \"$p/source\" || fail \"could not create $p\" $?\n";
      body += "echo \"--> cloning \"" + shell_quote(t.repo) + "\n";
      body += std::string("git clone ") + (t.fast_fetch ? "--depth=5 " : "") + "--branch " + shell_quote(branch_of(t.ref)) +
              " " + shell_quote(t.repo) + " \"$p/source\" || fail \"git clone failed\" $?\n";
      body += "ln -sfn \"$p/source\" \"$p/current\" || fail \"could not link $p/current\" $?\n";
      body += hook_line(t, "post-setup");
      body += "echo \"--> setup complete\"\n";
      break;
    }
    case DeployAction::Update:
      body += "ref=" + shell_quote(r.ref) + "\n" + deploy_steps(t);
      break;
    case DeployAction::Revert:
      body += nth_deploy(r.revert + 1);
      body += "echo \"--> reverting " + std::to_string(r.revert) + " deploy(s), to $commit\"\n";
      body += "ref=$commit\n" + deploy_steps(t);
      break;
    case DeployAction::Current:
      body += "cd \"$p/source\" || fail \"$p/source does not exist: run setup first\"\n";
      body += "git rev-parse --short HEAD\n";
      break;
    case DeployAction::Previous:
      body += nth_deploy(2) + "echo \"$commit\"\n";
      break;
    case DeployAction::List:
      body += "[ -s \"$p/.deploys\" ] || fail \"no deploy recorded in $p/.deploys yet\"\n";
      body += "tac \"$p/.deploys\" | awk '{printf \"%d\\t%s\\n\", NR-1, $0}'\n";
      break;
    case DeployAction::Exec:
      body += "cd \"$p/current\" || fail \"$p/current does not exist: run setup first\"\n";
      body += "\"${SHELL:-/bin/sh}\" -c " + shell_quote(r.command) + " || fail \"exec failed (exit $?)\" $?\n";
      break;
  }
  // Read whole before anything runs: no command takes the rest of the script as its input.
  return "{\n" + body + "} </dev/null\n";
}

std::vector<std::string> ssh_argv(const config::DeployTarget& t, const std::string& host) {
  std::vector<std::string> argv{"ssh"};
  for (const auto& option : t.ssh_options) {
    argv.push_back("-o");
    argv.push_back(option);
  }
  if (t.forward_agent) argv.push_back("-A");
  if (!t.port.empty()) argv.insert(argv.end(), {"-p", t.port});
  if (!t.key.empty()) argv.insert(argv.end(), {"-i", t.key});
  argv.push_back(t.user.empty() ? host : t.user + "@" + host);
  argv.push_back("/bin/sh -s");
  return argv;
}

}  // namespace pmx::cli
