// The only translation unit that sees the commit: a new commit recompiles this file alone.
#include "ipc/version.hpp"

#include "pmx_commit.h"

namespace pmx::ipc {

const char* build_commit() { return PMX_COMMIT; }

std::string version_line() { return std::string(PMX_VERSION) + " (commit " + PMX_COMMIT + ")"; }

}  // namespace pmx::ipc
