// The verbs given an ecosystem file: start, restart, reload, stop, delete, startOrRestart and
// startOrReload act on the file's apps; `ecosystem` writes an example file.
#pragma once

#include <string>

#include "cli/command_line.hpp"

namespace pmx::cli {

/// verb (start | restart | reload | stop | delete | startOrRestart | startOrReload) on the apps
/// of the ecosystem file arg; the exit code.
int run_on_file(DaemonConnection& daemon, const std::string& verb, const std::string& arg, const FileOptions& fo);
/// `pmx ecosystem`: writes a commented ecosystem.yaml here.
int run_ecosystem(Invocation& inv);

}  // namespace pmx::cli
