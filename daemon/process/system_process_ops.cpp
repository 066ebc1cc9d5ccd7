// SystemProcessOps: spawn, ProcessTree, waitpid and pidfds behind ProcessOps.
#include "daemon/process/system_process_ops.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "daemon/process/run_time.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;

namespace {

/// A waitpid status as the supervisor reads it.
ExitStatus exit_status_of(int status) {
  ExitStatus exit;
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  else exit.code = WEXITSTATUS(status);
  return exit;
}

}  // namespace

SystemProcessOps::SystemProcessOps(asio::io_context& io, bool use_cgroups, const std::string& cgroup_name)
    : io_(io), tree_(use_cgroups, cgroup_name), child_signal_(io) {}

void SystemProcessOps::start_reaping(ExitHandler on_exit, std::function<void()> after_batch) {
  on_exit_ = std::move(on_exit);
  after_batch_ = std::move(after_batch);
  child_signal_.add(SIGCHLD);
  reap();  // children that ended before the handler was installed
}

void SystemProcessOps::reap() {
  // Every exit of the batch is taken, with how long its process ran, before any is handled:
  // handling one may spawn its successor, which would make the later ones look longer.
  struct Reaped {
    pid_t pid;
    ExitStatus exit;
    std::uint64_t forked_ns;  ///< its start (fork) on the boot clock, 0 when unknown
    std::uint64_t reaped_ns;
  };
  std::vector<Reaped> batch;
  for (;;) {
    // Peeked first (WNOWAIT): the zombie's /proc/<pid>/stat still tells when it started.
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid <= 0) break;
    const std::uint64_t start = start_ticks_of(info.si_pid);
    int status = 0;
    const pid_t pid = ::waitpid(info.si_pid, &status, WNOHANG);
    if (pid <= 0) break;
    batch.push_back(Reaped{pid, exit_status_of(status), start ? ticks_to_ns(start) : 0, boot_time_ns()});
  }
  for (auto& [pid, exit, forked_ns, reaped_ns] : batch) {
    // How its exec went is known before its exit is handled (an exec error is the reason).
    if (auto e = exec_reports_.find(pid); e != exec_reports_.end()) {
      auto flush = std::move(e->second);
      exec_reports_.erase(e);
      flush();
    }
    // Its uptime runs from its exec (the app's own start: a child starved of CPU may reach it
    // seconds after the fork), else from its fork, to its reaping.
    std::uint64_t began_ns = forked_ns;
    if (auto s = exec_started_.find(pid); s != exec_started_.end()) {
      began_ns = std::max(began_ns, s->second);
      exec_started_.erase(s);
    }
    exit.ran_for = run_length(began_ns, reaped_ns);
    // An adopted leader that is our child (after `pmx update`, exec kept the pid) is reported
    // to its watch, once: the pidfd's wait ends as cancelled.
    if (auto w = watches_.find(pid); w != watches_.end()) {
      ExitHandler report = std::move(w->second.on_exit);
      watches_.erase(w);
      report(pid, exit);
      continue;
    }
    on_exit_(pid, exit);
  }
  after_batch_();
  child_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) reap();
  });
}

Result<pid_t> SystemProcessOps::spawn(SpawnRequest req, const std::string& cgroup, ExecReport report) {
  if (!cgroup.empty()) {
    // A run outside its cgroup would be out of reach of every stop (they signal the cgroup's
    // members): no cgroup, no run. The restart policy counts it as a failed spawn.
    req.cgroup_dir_fd = ::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (req.cgroup_dir_fd < 0) return Error{"cannot open its cgroup " + cgroup + ": " + std::strerror(errno)};
  }
  if (req.limits.any()) {
    // The limits are in place before the child exists; a run that cannot have them does not run.
    auto joins = cgroup.empty() ? Result<std::vector<std::string>>(Error{"no cgroup for the run's limits"})
                                : tree_.limits().apply(cgroup, req.limits);
    if (!joins) {
      if (req.cgroup_dir_fd >= 0) ::close(req.cgroup_dir_fd);
      return Error{"cannot apply its limits: " + joins.error()};
    }
    for (const auto& dir : *joins) {
      const int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        const std::string why = std::strerror(errno);
        for (int open_fd : req.join_procs_fds) ::close(open_fd);
        if (req.cgroup_dir_fd >= 0) ::close(req.cgroup_dir_fd);
        return Error{"cannot open " + dir + "/cgroup.procs: " + why};
      }
      req.join_procs_fds.push_back(fd);
    }
  }
  // The child gets its own copies of these at its birth.
  const int cgroup_dir_fd = req.cgroup_dir_fd;
  const std::vector<int> join_fds = req.join_procs_fds;
  SpawnResult r = daemon::spawn(std::move(req));
  if (cgroup_dir_fd >= 0) ::close(cgroup_dir_fd);
  for (int fd : join_fds) ::close(fd);
  if (r.pid <= 0 && r.cgroup_failed) {
    return Error{"cannot open its cgroup " + cgroup + " (cgroup.procs): " + r.fork_error.message()};
  }
  if (r.pid <= 0) return Error{"fork failed: " + r.fork_error.message()};
  const pid_t pid = r.pid;
  exec_reports_[pid] = watch_exec(
      io_, r.exec_report_fd,
      [this, pid, report = std::move(report)](int err, const std::string& step) {
        exec_reports_.erase(pid);
        report(err, step);
      },
      [this, pid](std::uint64_t exec_at_ns) { exec_started_[pid] = exec_at_ns; }, std::move(r.child_memory));
  return pid;
}

bool SystemProcessOps::signal_leader(pid_t pid, int sig) { return pid > 0 && ::kill(pid, sig) == 0; }

std::size_t SystemProcessOps::kill_rest(const Membership& m) {
  Membership rest = m;
  rest.leader = 0;
  const std::size_t left = tree_.members(rest).size();
  if (left > 0) tree_.signal_all(rest, SIGKILL);
  return left;
}

std::vector<pid_t> SystemProcessOps::members(const Membership& m) { return tree_.members(m, snapshot_for(m)); }

Usage SystemProcessOps::usage(const Membership& m) { return tree_.usage(m, snapshot_for(m)); }

void SystemProcessOps::end_scan() {
  if (--scans_ == 0) snapshot_.reset();
}

const ProcSnapshot* SystemProcessOps::snapshot_for(const Membership& m) {
  if (scans_ == 0 || !m.cgroup.empty()) return nullptr;
  if (!snapshot_) snapshot_ = ProcSnapshot::take();
  return &*snapshot_;
}

std::uint64_t SystemProcessOps::start_ticks(pid_t pid) { return live_start_ticks_of(pid); }

bool SystemProcessOps::watch_exit(pid_t pid, std::uint64_t start, ExitHandler on_exit) {
  if (pid <= 0 || start == 0 || live_start_ticks_of(pid) != start) return false;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  // The pidfd pins the process: checked again, the start time proves it is the recorded one.
  if (live_start_ticks_of(pid) != start) {
    ::close(fd);
    return false;
  }
  auto watch = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  watch->async_wait(asio::posix::stream_descriptor::wait_read, [this, pid](const boost::system::error_code& ec) {
    if (ec) return;  // forgotten, or reaped by reap()
    auto w = watches_.find(pid);
    if (w == watches_.end()) return;
    ExitHandler report = std::move(w->second.on_exit);
    watches_.erase(w);
    // An adopted leader is our child after `pmx update` (exec keeps the pid): then its status
    // is ours to read.
    int status = 0;
    ExitStatus exit{.unknown = true};
    if (::waitpid(pid, &status, WNOHANG) == pid) exit = exit_status_of(status);
    report(pid, exit);
  });
  watches_[pid] = ExitWatch{std::move(watch), std::move(on_exit)};
  return true;
}

bool SystemProcessOps::watch_members(int key, const Membership& m, const std::vector<std::string>& more_cgroups,
                                     std::function<void()> on_change) {
  MemberWatch& w = member_watches_[key];
  w.on_change = std::move(on_change);
  bool changed = false;
  std::vector<std::string> dirs;
  if (!m.cgroup.empty()) dirs.push_back(m.cgroup);
  for (const auto& dir : more_cgroups) {
    if (!dir.empty()) dirs.push_back(dir);
  }
  // A cgroup's cgroup.events tells when it is emptied, but the kernel may report that late (on
  // 6.18 it was seen only once the zombies were reaped), and a zombie is no process left: each
  // member's pidfd, readable as soon as it exits, tells that. With a cgroup the members come
  // from its cgroup.procs, not from a /proc scan.
  bool ok = watch_cgroups(key, w, dirs, changed);
  ok = watch_pids(key, w, m, changed) && ok;
  if (changed) {
    // Reported from the loop, as a later change would be.
    asio::post(io_, [this, key] {
      auto it = member_watches_.find(key);
      if (it == member_watches_.end()) return;  // forgotten meanwhile
      std::function<void()> call = it->second.on_change;
      call();
    });
  }
  return ok;
}

bool SystemProcessOps::watch_pids(int key, MemberWatch& w, const Membership& m, bool& changed) {
  ScanScope scan(*this);  // the caller's scan, when one is open
  const ProcSnapshot* snap = snapshot_for(m);
  const std::vector<pid_t> pids = tree_.members(m, snap);
  const std::set<pid_t> now(pids.begin(), pids.end());
  std::erase_if(w.pidfds, [&](const auto& e) { return !now.count(e.first); });
  for (pid_t pid : pids) {
    if (w.pidfds.count(pid)) continue;  // watched since an earlier call: the same process
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
      if (errno == ESRCH) {
        changed = true;  // gone since the scan
        continue;
      }
      return false;  // ENOSYS (a kernel before 5.3), EMFILE
    }
    // The pidfd pins the process: with the start time the scan read, it is the member found.
    // (With a cgroup there is no snapshot: a pid reused meanwhile means that member was
    // reaped, which the cgroup's populated change reports if it was the last one.)
    const std::uint64_t seen = snap ? snap->procs().at(pid).start_time : 0;
    if (seen != 0 && live_start_ticks_of(pid) != seen) {
      ::close(fd);
      changed = true;  // ended, and the pid taken by another process
      continue;
    }
    const std::uint64_t serial = ++next_serial_;
    auto desc = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    desc->async_wait(asio::posix::stream_descriptor::wait_read,
                     [this, key, pid, serial](const boost::system::error_code& ec) {
                       if (ec) return;  // forgotten
                       auto it = member_watches_.find(key);
                       if (it == member_watches_.end()) return;
                       auto p = it->second.pidfds.find(pid);
                       if (p == it->second.pidfds.end() || p->second.serial != serial) return;
                       it->second.pidfds.erase(p);  // that process has ended: its pidfd is closed
                       std::function<void()> call = it->second.on_change;
                       call();
                     });
    w.pidfds[pid] = MemberWatch::Pidfd{std::move(desc), serial};
  }
  return true;
}

bool SystemProcessOps::watch_cgroups(int key, MemberWatch& w, const std::vector<std::string>& dirs, bool& changed) {
  const std::set<std::string> wanted(dirs.begin(), dirs.end());
  for (auto it = w.cgroups.begin(); it != w.cgroups.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    // EINVAL when the kernel already dropped it (the cgroup was removed): nothing to undo.
    if (inotify_) ::inotify_rm_watch(inotify_->native_handle(), it->second);
    inotify_keys_.erase(it->second);
    it = w.cgroups.erase(it);
  }
  if (wanted.empty()) {
    close_idle_inotify();
    return true;
  }
  if (!inotify_) {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return false;
    inotify_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    read_inotify();
  }
  for (const auto& dir : wanted) {
    if (w.cgroups.count(dir)) continue;
    const int wd = ::inotify_add_watch(inotify_->native_handle(), (dir + "/cgroup.events").c_str(), IN_MODIFY);
    if (wd < 0) {
      if (errno == ENOENT) {
        changed = true;  // removed already
        continue;
      }
      return false;  // ENOSPC: out of inotify watches
    }
    w.cgroups[dir] = wd;
    inotify_keys_[wd] = key;
    // Emptied before the watch was set: no event will come for that.
    if (!cgroup_populated(dir)) changed = true;
  }
  return true;
}

void SystemProcessOps::read_inotify() {
  inotify_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;
    std::set<int> keys;
    alignas(inotify_event) char buf[4096];
    for (;;) {
      const ssize_t n = ::read(inotify_->native_handle(), buf, sizeof buf);
      if (n <= 0) break;  // EAGAIN: all read
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        auto k = inotify_keys_.find(e->wd);
        if (k == inotify_keys_.end()) continue;  // removed by forget_members
        keys.insert(k->second);
        if (e->mask & IN_IGNORED) {
          // The kernel dropped the watch (its cgroup was removed).
          if (auto w = member_watches_.find(k->second); w != member_watches_.end()) {
            std::erase_if(w->second.cgroups, [&](const auto& c) { return c.second == e->wd; });
          }
          inotify_keys_.erase(k);
        }
      }
    }
    for (int key : keys) {
      auto it = member_watches_.find(key);
      if (it == member_watches_.end()) continue;
      std::function<void()> call = it->second.on_change;
      call();
    }
    close_idle_inotify();
    if (inotify_) read_inotify();
  });
}

void SystemProcessOps::close_idle_inotify() {
  // Held only while a cgroup is watched: a daemon with no reply waiting keeps no inotify fd.
  if (inotify_ && inotify_keys_.empty()) inotify_.reset();
}

void SystemProcessOps::forget_members(int key) {
  auto it = member_watches_.find(key);
  if (it == member_watches_.end()) return;
  for (const auto& [dir, wd] : it->second.cgroups) {
    if (inotify_) ::inotify_rm_watch(inotify_->native_handle(), wd);
    inotify_keys_.erase(wd);
  }
  member_watches_.erase(it);  // closes its pidfds; their waits end as cancelled
  close_idle_inotify();
}

}  // namespace pmx::daemon
