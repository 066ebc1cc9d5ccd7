// `pmx deploy [file] <env> [setup|update|revert [n]|curr|prev|list|exec <cmd>|ref <ref>] [--force]`:
// PM2's deploy, from the deploy section of an ecosystem file, through the system's ssh and git.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pmx::cli {

struct CommandLine;
struct Invocation;

struct DeployVerbOptions {
  std::vector<std::string> words;  ///< [file] <env> [action] [args]
  bool force = false;              ///< deploy even with local changes not committed or pushed
};

void define_deploy(CLI::App& c, CommandLine& cl);
int run_deploy(Invocation& inv);

}  // namespace pmx::cli
