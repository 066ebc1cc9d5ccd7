// SystemProcessOps: spawn, ProcessTree, waitpid and pidfds behind ProcessOps.
#include "daemon/system_process_ops.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "daemon/state_file.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;

SystemProcessOps::SystemProcessOps(asio::io_context& io, bool use_cgroups, const std::string& cgroup_name)
    : io_(io), tree_(use_cgroups, cgroup_name), child_signal_(io) {}

void SystemProcessOps::start_reaping(ExitHandler on_exit, std::function<void()> after_batch) {
  on_exit_ = std::move(on_exit);
  after_batch_ = std::move(after_batch);
  child_signal_.add(SIGCHLD);
  reap();  // children that ended before the handler was installed
}

void SystemProcessOps::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    ExitStatus exit;
    if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
    else exit.code = WEXITSTATUS(status);
    on_exit_(pid, exit);
  }
  after_batch_();
  child_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) reap();
  });
}

Result<pid_t> SystemProcessOps::spawn(const SpawnRequest& request, const std::string& cgroup, ExecReport report) {
  SpawnRequest req = request;
  if (!cgroup.empty()) req.cgroup_dir_fd = ::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  SpawnResult r = daemon::spawn(req);
  if (req.cgroup_dir_fd >= 0) ::close(req.cgroup_dir_fd);
  if (r.pid <= 0) return Error{"fork failed: " + r.fork_error.message()};
  watch_exec(io_, r.exec_report_fd, std::move(report));
  return r.pid;
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

std::uint64_t SystemProcessOps::start_ticks(pid_t pid) { return process_start_ticks(pid); }

bool SystemProcessOps::watch_exit(pid_t pid, std::uint64_t start, ExitHandler on_exit) {
  if (pid <= 0 || start == 0 || process_start_ticks(pid) != start) return false;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  // The pidfd pins the process: checked again, the start time proves it is the recorded one.
  if (process_start_ticks(pid) != start) {
    ::close(fd);
    return false;
  }
  auto watch = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  watch->async_wait(asio::posix::stream_descriptor::wait_read,
                    [this, pid, on_exit = std::move(on_exit)](const boost::system::error_code& ec) {
                      if (ec) return;  // forgotten
                      watches_.erase(pid);
                      ExitStatus exit;
                      exit.unknown = true;
                      on_exit(pid, exit);
                    });
  watches_[pid] = std::move(watch);
  return true;
}

}  // namespace pmx::daemon
