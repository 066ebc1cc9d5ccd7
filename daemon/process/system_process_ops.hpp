// SystemProcessOps: the real process layer. Spawns through spawn(), tracks and signals through
// ProcessTree, reaps on SIGCHLD with waitpid, watches adopted leaders through pidfds, and an
// instance's members through pidfds and its cgroups through inotify on cgroup.events.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include <map>
#include <memory>
#include <optional>

#include "daemon/process/memory_events.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/process/process_tree.hpp"

namespace pmx::daemon {

class SystemProcessOps final : public ProcessOps {
 public:
  /// Finds a writable cgroup v2 hierarchy unless use_cgroups is false (see ProcessTree);
  /// cgroup_name makes the daemon's folder unique to its home.
  SystemProcessOps(boost::asio::io_context& io, bool use_cgroups, const std::string& cgroup_name);

  bool cgroups() const override { return tree_.cgroups(); }
  std::string cgroup_root() const override { return tree_.cgroup_root(); }
  std::vector<std::string> stale_cgroups() const override { return tree_.stale_cgroups(); }

  void start_reaping(ExitHandler on_exit, std::function<void()> after_batch) override;
  Result<pid_t> spawn(SpawnRequest request, const std::string& cgroup, ExecReport report) override;

  void signal_all(const Membership& m, int sig) override { tree_.signal_all(m, sig); }
  bool signal_leader(pid_t pid, int sig) override;
  std::size_t kill_rest(const Membership& m) override;
  std::vector<pid_t> members(const Membership& m) override;
  Usage usage(const Membership& m) override;
  bool watch_members(int key, const Membership& m, const std::vector<std::string>& more_cgroups,
                     std::function<void()> on_change) override;
  void forget_members(int key) override;
  void begin_scan() override { ++scans_; }
  void end_scan() override;

  std::string create_cgroup(const std::string& leaf, std::error_code& ec) override {
    return tree_.create_cgroup(leaf, ec);
  }
  bool remove_cgroup(const std::string& dir) override { return tree_.remove_cgroup(dir); }
  std::uint64_t oom_kills(const std::string& dir) override { return tree_.limits().oom_kills(dir); }
  Result<bool> check_limits(const Limits& limits) const override { return tree_.limits().check(limits); }
  LimitUsage limit_usage(const std::string& dir, const Limits& limits) override { return tree_.limits().usage(dir, limits); }

  void set_leader(pid_t pid, bool alive) override { tree_.set_leader(pid, alive); }
  std::uint64_t start_ticks(pid_t pid) override;
  bool watch_exit(pid_t pid, std::uint64_t start, ExitHandler on_exit) override;
  void forget_watch(pid_t pid) override { watches_.erase(pid); }

 private:
  /// Reaps every child that has ended (signals coalesce), then waits for the next SIGCHLD.
  void reap();
  /// The scan's snapshot for a fallback membership (taken at first use), else nullptr.
  const ProcSnapshot* snapshot_for(const Membership& m);

  /// One member watch: a pidfd per member process, an inotify watch per cgroup.
  struct MemberWatch {
    struct Pidfd {
      std::unique_ptr<boost::asio::posix::stream_descriptor> fd;
      std::uint64_t serial = 0;  ///< tells a stale completion from one of a later pidfd
    };
    std::function<void()> on_change;
    std::map<pid_t, Pidfd> pidfds;
    std::map<std::string, int> cgroups;  ///< cgroup dir -> inotify watch descriptor
  };
  /// Watches the members of m through pidfds; false when pidfds cannot be had.
  bool watch_pids(int key, MemberWatch& w, const Membership& m, bool& changed);
  /// Watches each cgroup's cgroup.events; false when inotify cannot be had.
  bool watch_cgroups(int key, MemberWatch& w, const std::vector<std::string>& dirs, bool& changed);
  /// Reads the pending inotify events, tells the watches concerned, and waits for more.
  void read_inotify();
  /// Closes the inotify fd once no cgroup is watched.
  void close_idle_inotify();

  boost::asio::io_context& io_;
  ProcessTree tree_;
  std::map<int, MemberWatch> member_watches_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> inotify_;  ///< while a cgroup is watched
  std::map<int, int> inotify_keys_;  ///< inotify watch descriptor -> member watch key
  std::uint64_t next_serial_ = 0;
  boost::asio::signal_set child_signal_;
  ExitHandler on_exit_;
  std::function<void()> after_batch_;
  int scans_ = 0;  ///< open scans (nested ones share the outer one's snapshot)
  std::optional<ProcSnapshot> snapshot_;
  /// An adopted leader's exit watch: its pidfd and who is told.
  struct ExitWatch {
    std::unique_ptr<boost::asio::posix::stream_descriptor> pidfd;
    ExitHandler on_exit;
  };
  std::map<pid_t, ExitWatch> watches_;
  /// Children whose exec report has not come yet: read at their reaping (watch_exec's flush).
  std::map<pid_t, std::function<void()>> exec_reports_;
  /// When each child began its exec (boot clock, ns), as it reported: kept until its reaping,
  /// where its uptime is measured from it.
  std::map<pid_t, std::uint64_t> exec_started_;
};

}  // namespace pmx::daemon
