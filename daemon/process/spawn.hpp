// spawn: the only fork/exec in pmx. Everything is prepared before the clone; the child makes
// only system calls; pmxd never waits for the child (on x86-64 it shares pmxd's memory until
// its exec, without suspending pmxd: no copy of pmxd's memory), nor for the exec's outcome.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "config/result.hpp"
#include "daemon/process/resource_limits.hpp"

namespace pmx::daemon {

struct SpawnRequest {
  std::string program;              ///< absolute path to exec (already searched in PATH)
  std::vector<std::string> argv;    ///< argv[0] included
  std::vector<std::string> env;     ///< "KEY=value" entries
  std::string cwd;
  int stdout_fd = -1;               ///< write ends the child gets as fd 1 and 2
  int stderr_fd = -1;
  /// Fds the child gets as 3, 4, ...: listening sockets (socket activation), then Node's IPC
  /// channel.
  std::vector<int> inherited_fds;
  /// Adds LISTEN_PID=<the child's own pid> to the environment, written in by the child itself.
  bool listen_pid = false;
  int cgroup_dir_fd = -1;           ///< the run's cgroup directory: the child is created in it
  /// The cgroup.procs of the run's cgroup v1 folders (limits on a hybrid host): the child joins
  /// each before anything else, so it never runs outside its limits.
  std::vector<int> join_procs_fds;
  /// The run's limits, written into its cgroups before the child exists (ProcessOps::spawn).
  Limits limits;
  std::optional<uid_t> uid;         ///< run as this user (pmxd must be root)
  std::optional<gid_t> gid;         ///< the group; with uid alone, the uid's number
  /// Supplementary groups when uid or gid is set; unset: looked up before fork (the user's
  /// groups per the group database, or just the gid for a uid without a passwd entry).
  std::optional<std::vector<gid_t>> groups;
};

/// A user and group to run an app as, resolved from names or ids.
struct Credentials {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;  ///< set whenever uid is: a uid without a passwd entry gets its own number
  std::vector<gid_t> groups; ///< supplementary groups (initgroups-style), for SpawnRequest::groups
  std::string home;  ///< the user's home, for HOME
};

/// Resolves the uid/gid options (names or numbers) with the password and group databases.
/// A numeric uid without a passwd entry runs with gid = uid and no other group (never root's).
/// Call before fork: these lookups are not async-signal-safe.
Result<Credentials> resolve_credentials(const std::string& user, const std::string& group);

/// A step of the child that failed before its exec: the errno and the step ("exec", "chdir",
/// "cgroup" or "setuid/setgid").
struct ExecFailure {
  int err = 0;
  std::string step;
};

struct SpawnResult {
  pid_t pid = -1;             ///< > 0 when fork succeeded (exec may still fail)
  std::error_code fork_error; ///< fork itself failed: no child exists
  /// With fork_error: the child could not be put into its cgroup (a kernel without
  /// CLONE_INTO_CGROUP, and its cgroup.procs could not be opened), so none was made.
  bool cgroup_failed = false;
  int exec_report_fd = -1;    ///< read end of the close-on-exec pipe: see watch_exec
  /// What the child reads in pmxd's memory until its exec (a child that shares it): to be kept
  /// until the report pipe has closed, which watch_exec does when given it.
  std::shared_ptr<const void> child_memory;
};

/// How the child's exec went: err 0 when it succeeded, else the errno and the step that
/// failed ("exec", "chdir" or "cgroup").
using ExecReport = std::function<void(int err, const std::string& step)>;

/// The message for a failed step of the child, naming what failed: the cwd for "chdir",
/// the program for "exec" ("cannot change to the app's cwd /srv/x (for /usr/bin/node): ...").
std::string describe_exec_failure(int err, const std::string& step, const std::string& program,
                                  const std::string& cwd);

/// Starts the child and returns at once: pmxd never waits for anything the child does before
/// its exec (a chdir into a hung NFS mount, setuid, the exec itself); the outcome comes later
/// through watch_exec.
/// Every signal is blocked in pmxd across the fork, and the child resets every disposition to
/// the default before it unblocks them: a signal aimed at the child never runs pmxd's handlers.
/// A child whose exec failed exits 127 (126 for EACCES) and is reaped like any other.
SpawnResult spawn(SpawnRequest request);

/// The time a child began its exec (CLOCK_BOOTTIME, in ns), as it wrote it just before execve:
/// the app's own start, whatever pmxd's loop was doing meanwhile.
using ExecStartTime = std::function<void(std::uint64_t exec_at_ns)>;

/// Reads the exec report from fd (taking ownership) without blocking the loop: the pipe
/// closes when exec succeeds, or carries the errno when it fails. done runs once; started, if
/// given, runs before it with the time the child began its exec (not for a failure before
/// that step). The function
/// returned delivers the report now, if the loop has not yet: for when the child is reaped, so
/// that its exec error is known before its exit is handled (it reads a pipe whose writers are
/// all gone: never blocks).
/// child_memory (SpawnResult's) is held until the pipe has closed or the child was reaped:
/// only then is a child that shares pmxd's memory past its exec or gone.
std::function<void()> watch_exec(boost::asio::io_context& io, int fd, ExecReport done,
                                 ExecStartTime started = nullptr, std::shared_ptr<const void> child_memory = nullptr);

/// Searches PATH (from env, else the daemon's) for name; returns name itself when it holds a '/'.
std::string find_program(const std::string& name, const std::vector<std::string>& env);

}  // namespace pmx::daemon
