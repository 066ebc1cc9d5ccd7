// `pmx completion`: prints or installs the completion scripts the binary carries.
#include "cli/completion.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>

#include "cli/commands.hpp"
#include "cli/completion_scripts.hpp"
#include "config/paths.hpp"

namespace pmx::cli {
namespace {

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
  const std::string path = dir + "/pmx";
  const int fd = config::open_creating_folders(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const std::string_view script = kBashCompletion;
  const bool written = fd >= 0 && ::write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  const int error = errno;
  if (fd >= 0) ::close(fd);
  if (!written) {
    std::cerr << "pmx: completion install: cannot write " << path << ": " << std::strerror(error) << "\n";
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
