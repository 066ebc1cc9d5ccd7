// The pmx verbs: parse the command line, talk to pmxd, print, return the exit code.
#pragma once

namespace pmx::cli {

/// CLI exit codes (also in `pmx --help` and docs/cli.md).
enum ExitCode : int {
  kOk = 0,           ///< done
  kFailed = 1,       ///< the operation failed or the daemon refused it
  kUsage = 2,        ///< bad usage or configuration
  kUnreachable = 3,  ///< the daemon could not be reached or started
};

/// Runs one pmx command line.
int run(int argc, char** argv);

}  // namespace pmx::cli
