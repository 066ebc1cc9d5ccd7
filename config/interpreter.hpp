// Choosing the interpreter of a script by its extension, as PM2 does.
#pragma once

#include <string>

namespace pmx::config {

/// The interpreter PM2 picks for a script: .js/.mjs/.cjs node, .py python3, .sh bash,
/// .rb ruby, .php php, .pl perl; anything else runs directly (empty string).
std::string interpreter_for(const std::string& script);

}  // namespace pmx::config
