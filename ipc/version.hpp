// The build's identity: the release version and the git commit pmx and pmxd were built from.
#pragma once

#include <string>

namespace pmx::ipc {

/// The commit of the build (`git rev-parse --short HEAD` at configure time), or "unknown" for a
/// tree without .git (a release tarball).
const char* build_commit();

/// "0.1.0 (commit d21d8b8)": what `pmx --version` and `pmxd --version` print after their name.
std::string version_line();

}  // namespace pmx::ipc
