// `pmx report` (PM2's verb): everything a bug report needs, in one paste: versions and commits,
// kernel, cgroup mode, PMX_HOME, pmxd's uptime, memory and descriptors, and each app's status,
// restarts, last exit and the last lines of its error log.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/daemon_connection.hpp"

namespace pmx::cli {

/// Prints the report; exit 0.
int cmd_report(DaemonConnection& daemon);

/// The last lines (at most count) of the file at path, read from its end (at most 64 KiB);
/// empty when there are none, "(cannot read: <why>)" when it cannot be read.
std::string last_lines(const std::string& path, std::size_t count);

}  // namespace pmx::cli
