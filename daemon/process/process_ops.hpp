// ProcessOps: everything the supervisor does to processes (spawn, signal, reap, watch,
// membership, usage, cgroups, identity), behind one small interface. SystemProcessOps is the
// real one; unit tests give the supervisor a fake, so its restart policy runs without a fork.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "config/result.hpp"
#include "daemon/process/exit_status.hpp"
#include "daemon/process/process_tree.hpp"
#include "daemon/process/spawn.hpp"

namespace pmx::daemon {

/// A leader pid has ended (reaped, or seen through its pidfd when it was adopted).
using ExitHandler = std::function<void(pid_t pid, ExitStatus exit)>;

class ProcessOps {
 public:
  virtual ~ProcessOps() = default;

  /// Whether each instance gets a cgroup of its own (else: process group, /proc, markers).
  virtual bool cgroups() const = 0;
  /// Where the instances' cgroups are made ("" without cgroups).
  virtual std::string cgroup_root() const = 0;
  /// Cgroups of an earlier daemon of this home that still hold processes.
  virtual std::vector<std::string> stale_cgroups() const = 0;

  /// Starts delivering the exit of every reaped child to on_exit (leaders and descendants
  /// alike), then calls after_batch once per batch of exits (signals coalesce). Exits that
  /// were pending before the call are delivered too.
  virtual void start_reaping(ExitHandler on_exit, std::function<void()> after_batch) = 0;

  /// Starts request's program in cgroup ("" for none) and returns its pid at once; report is
  /// called with the exec's outcome (err 0: it ran): later from the loop, or before spawn
  /// returns when a failure is already known, so that exec_error is set before the child's
  /// exit is handled. A child whose exec failed is reaped like any other. Error: no process
  /// was made.
  virtual Result<pid_t> spawn(SpawnRequest request, const std::string& cgroup, ExecReport report) = 0;

  /// Sends sig once to every process of the instance.
  virtual void signal_all(const Membership& m, int sig) = 0;
  /// Sends sig to the leader only (the `signal` verb); false when that failed.
  virtual bool signal_leader(pid_t pid, int sig) = 0;
  /// SIGKILLs what is left of the instance once its leader is gone (m.leader is ignored);
  /// returns how many processes there were.
  virtual std::size_t kill_rest(const Membership& m) = 0;
  /// Every live process of the instance.
  virtual std::vector<pid_t> members(const Membership& m) = 0;
  /// Memory and CPU of the instance's processes.
  virtual Usage usage(const Membership& m) = 0;

  /// Calls on_change from the loop whenever the processes of m may have changed: a member
  /// found now ended (a pidfd per member), or m.cgroup or one of more_cgroups was emptied or
  /// filled (inotify on its cgroup.events). A member found since the last call is
  /// watched once the caller calls again with the same key, which updates that watch; a
  /// change that happened before the watch was set (a member already gone, a cgroup already
  /// empty) is reported too. The watch lasts until forget_members(key). False when the layer
  /// cannot watch (no pidfd or inotify, out of descriptors): the caller must poll instead.
  /// Inside a scan, the members are found from the scan's snapshot.
  virtual bool watch_members(int key, const Membership& m, const std::vector<std::string>& more_cgroups,
                             std::function<void()> on_change) = 0;
  /// Ends the watch of key (its descriptors are closed); no-op for an unknown key.
  virtual void forget_members(int key) = 0;

  /// Opens a scan: the members() and usage() questions asked until end_scan() may share one
  /// look at the system (one /proc scan for all instances in the fallback). Scans may nest.
  virtual void begin_scan() {}
  virtual void end_scan() {}

  /// Creates the cgroup named leaf under cgroup_root(); "" and ec set on failure.
  virtual std::string create_cgroup(const std::string& leaf, std::error_code& ec) = 0;
  /// Removes a cgroup; false while processes are still in it.
  virtual bool remove_cgroup(const std::string& dir) = 0;
  /// The OOM kills the kernel counted in the cgroup dir (memory.events); 0 without cgroups or
  /// without the memory controller there.
  virtual std::uint64_t oom_kills(const std::string& dir) { (void)dir; return 0; }
  /// Whether runs with these limits can be made (SpawnRequest::limits); else why not. Without
  /// cgroups (this default), any limit is refused.
  virtual Result<bool> check_limits(const Limits& limits) const { return ResourceLimits().check(limits); }
  /// What the limits of the run in dir count (throttled time, OOM kills, tasks).
  virtual LimitUsage limit_usage(const std::string& dir, const Limits& limits) {
    (void)dir, (void)limits;
    return {};
  }

  /// Tells the layer that pid leads an instance (alive) or was reaped (not alive).
  virtual void set_leader(pid_t pid, bool alive) = 0;
  /// The start time of pid in clock ticks after boot (0 when there is no such process): with
  /// the pid, a process's identity, since a reused pid has another start time.
  virtual std::uint64_t start_ticks(pid_t pid) = 0;
  /// Watches the exit of pid, which is not our child (adopted after a daemon crash), provided
  /// it is still the process that started at start; false when it is gone or another one.
  /// on_exit gets ExitStatus::unknown. The watch ends with the exit or forget_watch(pid).
  virtual bool watch_exit(pid_t pid, std::uint64_t start, ExitHandler on_exit) = 0;
  virtual void forget_watch(pid_t pid) = 0;
};

/// Opens a scan of ops for the lifetime of the object.
class ScanScope {
 public:
  explicit ScanScope(ProcessOps& ops) : ops_(ops) { ops_.begin_scan(); }
  ~ScanScope() { ops_.end_scan(); }
  ScanScope(const ScanScope&) = delete;
  ScanScope& operator=(const ScanScope&) = delete;

 private:
  ProcessOps& ops_;
};

}  // namespace pmx::daemon
