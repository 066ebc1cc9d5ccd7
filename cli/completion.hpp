// `pmx completion`: the shell completion scripts of packaging/completions/, carried by the
// binary, so that a pmx built from source completes as the packaged one does (PM2's verb).
#pragma once

#include <string>

namespace pmx::cli {

/// pmx completion [bash|zsh|install]: prints the script for the shell named (bash without one),
/// or installs the bash one where bash-completion looks for a user's completions. Returns the
/// exit code.
int run_completion(const std::string& what);

}  // namespace pmx::cli
