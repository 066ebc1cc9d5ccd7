// ProcessTree: which processes belong to an instance, and what they use (memory, CPU).
//
// With a writable cgroup v2 hierarchy each instance gets its own cgroup: exact membership
// whatever the app does, and a one-write kill. Elsewhere (or with --no-cgroup) membership is
// the leader's process group, its descendants through /proc parent links, and orphans that
// came back to pmxd (a child subreaper) still carrying the instance's unique_id in their
// environment.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "daemon/process/resource_limits.hpp"

namespace pmx::daemon {

/// What the supervisor tells the tracker about one instance.
struct Membership {
  pid_t leader = 0;          ///< 0 once the leader is reaped
  std::string unique_id;     ///< the instance's marker in the environment of its processes
  std::string cgroup;        ///< the instance's cgroup directory, empty in fallback mode
};

/// Resource use of one instance's processes.
struct Usage {
  std::uint64_t rss_bytes = 0;
  std::uint64_t cpu_ticks = 0;  ///< utime + stime, in clock ticks
  std::size_t processes = 0;
};

/// One scan of /proc: enough to answer membership and usage for many instances at once.
class ProcSnapshot {
 public:
  struct Proc {
    pid_t ppid = 0;
    pid_t pgid = 0;
    std::uint64_t rss_pages = 0;
    std::uint64_t ticks = 0;
    std::uint64_t start_time = 0;  ///< clock ticks after boot: with the pid, the process's identity
  };
  /// Reads /proc/<pid>/stat of every process.
  static ProcSnapshot take();
  /// Reads /proc/<pid>/stat of the given pids only.
  static ProcSnapshot of(const std::vector<pid_t>& pids);

  const std::map<pid_t, Proc>& procs() const { return procs_; }

  /// The unique_id= value in the environment of pid, read once per snapshot ("" if none).
  const std::string& marker_of(pid_t pid) const;

 private:
  std::map<pid_t, Proc> procs_;
  mutable std::map<pid_t, std::string> markers_;
};

/// Whether the cgroup at dir still holds a process ("populated 1" in its cgroup.events); false
/// when it does not or cannot be read (removed).
bool cgroup_populated(const std::string& dir);

/// Reads the fields of /proc/<pid>/stat that Proc holds; false when it cannot be read, and for
/// a zombie unless zombies is set (a zombie's fields stay readable until it is reaped).
bool read_proc_stat(pid_t pid, ProcSnapshot::Proc& p, bool zombies = false);

/// The parent of pid (/proc/<pid>/stat), a zombie's too; 0 when it cannot be read.
pid_t parent_of(pid_t pid);

/// A run of an instance found by the marker its processes carry, not by a recorded pid: a
/// pmxd that died while state.json lagged (the disk was full) left it unrecorded.
struct MarkedRun {
  pid_t leader = 0;                ///< the topmost marked process (its parent carries no marker)
  std::uint64_t start_time = 0;    ///< its start time, for its identity
  std::string cgroup;              ///< its cgroup v2 path ("/a/b", as /proc/<pid>/cgroup says)
};
/// The live process whose environment holds unique_id=<unique_id> and whose parent's does not
/// (the oldest such one); nullopt when none runs. One scan of /proc, reading environments.
std::optional<MarkedRun> find_marked_run(const std::string& unique_id);

class ProcessTree {
 public:
  /// Finds a writable cgroup v2 hierarchy and makes the daemon's folder in it, unless
  /// use_cgroups is false. name makes the folder unique to this home.
  ProcessTree(bool use_cgroups, const std::string& name);
  ~ProcessTree();
  ProcessTree(const ProcessTree&) = delete;
  ProcessTree& operator=(const ProcessTree&) = delete;

  bool cgroups() const { return !root_.empty(); }
  /// Cgroups of an earlier daemon of this home that still hold processes.
  const std::vector<std::string>& stale_cgroups() const { return stale_; }
  const std::string& cgroup_root() const { return root_; }
  /// Where the runs' limits go (none in fallback mode).
  const ResourceLimits& limits() const { return limits_; }

  /// Creates the cgroup of an instance (no-op in fallback mode). Returns its directory.
  std::string create_cgroup(const std::string& leaf, std::error_code& ec);
  /// Removes a cgroup; false while processes are still in it.
  bool remove_cgroup(const std::string& cgroup) const;

  /// Tells the tracker which pids are instance leaders: those are never orphans of another
  /// instance, so the fallback does not read their environment. A live leader is held by a
  /// pidfd until it is reaped (alive false), and signalled through it.
  void set_leader(pid_t pid, bool alive);

  /// Every live process of the instance (zombies excluded).
  std::vector<pid_t> members(const Membership& m, const ProcSnapshot* snapshot = nullptr) const;
  /// Sends sig once to every process of the instance; with SIGKILL and a cgroup, one cgroup.kill
  /// write. The leader is signalled by its pidfd, the fallback's group by the leader's pgid, and
  /// any other pid only after a re-check (pidfd held) that it is still the member found.
  void signal_all(const Membership& m, int sig) const;
  /// Memory and CPU of the instance's processes.
  Usage usage(const Membership& m, const ProcSnapshot* snapshot = nullptr) const;

 private:
  std::vector<pid_t> fallback_members(const Membership& m, const ProcSnapshot& snap) const;
  void signal_leader(pid_t pid, int sig) const;

  std::string root_;  ///< the daemon's cgroup folder; empty in fallback mode
  std::map<pid_t, int> leaders_;  ///< live leaders and their pidfds (-1 without pidfd support)
  std::vector<std::string> stale_;
  ResourceLimits limits_;
  pid_t self_ = 0;
};

}  // namespace pmx::daemon
