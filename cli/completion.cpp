// `pmx completion`: prints or installs the completion scripts the binary carries.
#include "cli/completion.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "cli/completion_scripts.hpp"
#include "cli/commands.hpp"

namespace pmx::cli {
namespace {

/// mkdir -p; false with errno set when a part cannot be made.
bool make_folders(const std::string& path) {
  for (std::size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
    const std::string part = path.substr(0, at);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
    if (at == std::string::npos) return true;
  }
}

/// Where bash-completion (2.x, Debian's) loads a user's own completions from, on demand.
std::string user_completion_dir() {
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data == '/') {
    return std::string(data) + "/bash-completion/completions";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "") + "/.local/share/bash-completion/completions";
}

int install_bash() {
  const std::string dir = user_completion_dir();
  if (dir.front() != '/') {
    std::cerr << "pmx: completion install: HOME is not set; run: pmx completion > <folder>/pmx\n";
    return kFailed;
  }
  if (!make_folders(dir)) {
    std::cerr << "pmx: completion install: cannot make " << dir << ": " << std::strerror(errno) << "\n";
    return kFailed;
  }
  const std::string path = dir + "/pmx";
  std::ofstream out(path, std::ios::trunc);
  out << kBashCompletion;
  out.close();
  if (!out) {
    std::cerr << "pmx: completion install: cannot write " << path << "\n";
    return kFailed;
  }
  std::cout << "installed " << path << ": new bash shells complete pmx (zsh: pmx completion zsh > ~/.zfunc/_pmx,\n"
            << "with fpath+=(~/.zfunc) before compinit in ~/.zshrc)\n";
  return kOk;
}

}  // namespace

int run_completion(const std::string& what) {
  if (what.empty() || what == "bash") {
    std::cout << kBashCompletion;
    return kOk;
  }
  if (what == "zsh") {
    std::cout << kZshCompletion;
    return kOk;
  }
  if (what == "install") return install_bash();
  std::cerr << "pmx: completion: unknown shell '" << what << "' (bash, zsh, or install)\n";
  return kUsage;
}

}  // namespace pmx::cli
