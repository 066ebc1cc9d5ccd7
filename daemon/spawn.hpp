// spawn: the only fork/exec in pmx. Everything is prepared before fork; the child makes
// only async-signal-safe calls.
#pragma once

#include <sys/types.h>

#include <string>
#include <system_error>
#include <vector>

namespace pmx::daemon {

struct SpawnRequest {
  std::string program;              ///< absolute path to exec (already searched in PATH)
  std::vector<std::string> argv;    ///< argv[0] included
  std::vector<std::string> env;     ///< "KEY=value" entries
  std::string cwd;
  int stdout_fd = -1;               ///< write ends the child gets as fd 1 and 2
  int stderr_fd = -1;
  int cgroup_dir_fd = -1;           ///< the instance's cgroup directory: the child is created in it
  int cgroup_procs_fd = -1;         ///< its cgroup.procs, for kernels without clone3 into a cgroup
};

struct SpawnResult {
  pid_t pid = -1;             ///< > 0 when fork succeeded (even if exec then failed)
  std::error_code fork_error; ///< fork itself failed: no child exists
  int exec_errno = 0;         ///< exec (or chdir, or cgroup join) failed in the child
  std::string failed_step;    ///< "exec", "chdir" or "cgroup" when exec_errno != 0
};

/// Forks and execs. Blocks only until the child has exec'd or failed (the close-on-exec
/// pipe closes or carries the errno). A child whose exec failed exits 127 (126 for EACCES)
/// and is reaped like any other.
SpawnResult spawn(const SpawnRequest& request);

/// Searches PATH (from env, else the daemon's) for name; returns name itself when it holds a '/'.
std::string find_program(const std::string& name, const std::vector<std::string>& env);

}  // namespace pmx::daemon
