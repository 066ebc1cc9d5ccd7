// Choosing the interpreter of a script as PM2 does: by its extension, else by what the file is.
#pragma once

#include <string>

namespace pmx::config {

/// The interpreter PM2 picks for a script: .js/.mjs/.cjs node, .py python3, .sh bash,
/// .rb ruby, .php php, .pl perl; anything else runs directly (empty string).
std::string interpreter_for(const std::string& script);

/// The interpreter for the file at path when none is given ("none": it runs by itself).
/// The extension table first; then, by the file's content:
/// - a binary (ELF, or any NUL byte in its first 512 bytes) runs by itself;
/// - an executable file starting with "#!" runs by itself (the kernel reads its shebang);
/// - a file that is not executable but has a shebang runs with the shebang's program
///   (`#!/usr/bin/env python3` gives python3, `#!/bin/bash` gives /bin/bash);
/// - any other file runs with node, PM2's default interpreter (express's `bin/www`).
std::string choose_interpreter(const std::string& path);

}  // namespace pmx::config
