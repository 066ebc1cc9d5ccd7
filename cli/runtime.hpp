// pmx-runtime: the foreground entry point of a container (PM2's pm2-runtime): pmxd as a
// child, the apps started as `pmx start` starts them, their output on this process's own
// stdout and stderr, PID 1's duties (reaping, signals), and an exit code that says how the
// apps ended.
#pragma once

#include <string>
#include <vector>

namespace pmx::cli {

/// How pmx-runtime prints the apps' lines.
enum class RuntimeFormat {
  Prefixed,  ///< `<name>| <line>` (the default)
  Raw,       ///< the line alone (--raw)
  Json,      ///< one JSON object per line (--json): message, timestamp, type, process_id, app_name
};

/// The command line of pmx-runtime: its own options, and what goes to `pmx start`.
struct RuntimeOptions {
  RuntimeFormat format = RuntimeFormat::Prefixed;
  bool auto_exit = true;                ///< exit once every app has ended (--no-auto-exit: never)
  std::vector<std::string> start_args;  ///< given to `pmx start` as they are
};

/// Runs pmx-runtime; returns its exit code: on SIGTERM/SIGINT/SIGQUIT 0 when every app stopped
/// within its kill_timeout, 137 (128+SIGKILL) when one had to be killed; once every app has
/// ended, the code of the first (by pm_id) that failed (128+n when killed by signal n; 1 for an
/// errored app without a code), or 0; a failed start, pmx's code (2 usage, 3 unreachable);
/// pmxd dying, its own status (128+n when killed by signal n).
int run_runtime(int argc, char** argv);

}  // namespace pmx::cli
