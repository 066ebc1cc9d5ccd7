// spawn: fork + exec with a close-on-exec error pipe (systemd exec_fd, tini restore_signals).
#include "daemon/spawn.hpp"

#include "config/paths.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <algorithm>
#include <memory>

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace pmx::daemon {
namespace {

struct ChildError {
  int step;  // 0 exec, 1 chdir, 2 cgroup
  int err;
};

[[noreturn]] void child_fail(int pipe_fd, int step, int err) {
  ChildError e{step, err};
  ssize_t ignored = write(pipe_fd, &e, sizeof e);
  (void)ignored;
  _exit(err == EACCES ? 126 : 127);
}

// clone3(2)'s argument, as in <linux/sched.h> (declared here: that header clashes with <sched.h>).
struct CloneArgs {
  std::uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};
constexpr std::uint64_t kCloneIntoCgroup = 0x200000000ULL;

// fork(), but with the child born inside the cgroup: migrating a live process into a cgroup
// (a write to cgroup.procs) costs milliseconds of RCU synchronisation; being born there does not.
// Returns -1 with errno set when the kernel cannot (then the caller forks and migrates).
pid_t fork_into_cgroup(int cgroup_dir_fd) {
  CloneArgs args{};
  args.flags = kCloneIntoCgroup;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<std::uint64_t>(cgroup_dir_fd);
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
}

/// Closes fds lowest..highest (async-signal-safe).
void close_range_of(unsigned lowest, unsigned highest) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, lowest, highest, 0) == 0) return;
#endif
  for (unsigned fd = lowest; fd <= highest && fd < 65536; ++fd) close(static_cast<int>(fd));
}

/// Where the child keeps the exec-error pipe: high, out of the way of the fds an app is given
/// (stdio, then listening sockets from 3), and below the fd limit. exec closes it.
int exec_report_fd() {
  struct rlimit rl{};
  rlim_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
  return static_cast<int>(std::min<rlim_t>(limit, 1024) - 1);
}

}  // namespace

std::string find_program(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path;
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  std::string found = config::find_in_path(name, path);
  return found.empty() ? name : found;
}

// The groups a process of uid gets (initgroups(3) computed before fork): the user's groups
// when uid has a passwd entry, else gid alone, never root's list by inheritance.
static std::vector<gid_t> supplementary_groups(std::optional<uid_t> uid, gid_t gid) {
  const passwd* pw = uid ? getpwuid(*uid) : nullptr;
  if (!pw || !pw->pw_name) return {gid};
  int n = 16;
  std::vector<gid_t> groups;
  for (;;) {
    groups.resize(static_cast<std::size_t>(n));
    int count = n;
    if (getgrouplist(pw->pw_name, gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<std::size_t>(count));
      return groups;
    }
    if (count <= n) return {gid};  // the lookup failed, not the size
    n = count;
  }
}

SpawnResult spawn(const SpawnRequest& req) {
  SpawnResult result;
  std::vector<char*> argv;
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // A uid without a group of its own gets its own number as gid: never root's group.
  const bool drop = req.uid || req.gid;
  const gid_t gid = req.gid ? *req.gid : req.uid ? static_cast<gid_t>(*req.uid) : getgid();
  const std::vector<gid_t> groups = !drop ? std::vector<gid_t>{} : req.groups ? *req.groups : supplementary_groups(req.uid, gid);

  const int report_fd = exec_report_fd();
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.fork_error = {errno, std::generic_category()};
    return result;
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

  // Until the child has reset every handler, a signal sent to it would run pmxd's handler,
  // which writes into pmxd's own signal pipe: pmxd would believe it got that signal. Blocked,
  // such a signal waits in the child and meets the default disposition.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = -1;
  int procs_fd = -1;  // for kernels without clone3 into a cgroup: the child joins by itself
  if (req.cgroup_dir_fd >= 0) {
    pid = fork_into_cgroup(req.cgroup_dir_fd);
    if (pid < 0) procs_fd = openat(req.cgroup_dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  }
  if (pid < 0) pid = fork();
  if (pid < 0) {
    result.fork_error = {errno, std::generic_category()};
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    close(err_pipe[0]);
    close(err_pipe[1]);
    if (devnull >= 0) close(devnull);
    if (procs_fd >= 0) close(procs_fd);
    return result;
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only from here on.
    const int efd = err_pipe[1];
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (procs_fd >= 0 && write(procs_fd, "0\n", 2) < 0) child_fail(efd, 2, errno);
    setsid();
    // Move the fds we keep above 2 first so dup2 cannot clobber one with another.
    if (devnull >= 0) dup2(devnull, 0);
    dup2(req.stdout_fd, 1);
    dup2(req.stderr_fd, 2);
    // The fd plan: 0-2 stdio, nothing else but the exec-error pipe at its high fd (close-on-exec).
    if (efd != report_fd && dup3(efd, report_fd, O_CLOEXEC) < 0) _exit(127);
    close_range_of(3, static_cast<unsigned>(report_fd) - 1);
    close_range_of(static_cast<unsigned>(report_fd) + 1, ~0U);
    // Drop privileges last: the group list, then the group, then the user.
    if (drop && (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0)) child_fail(report_fd, 3, errno);
    if (req.uid && setuid(*req.uid) != 0) child_fail(report_fd, 3, errno);
    if (!req.cwd.empty() && chdir(req.cwd.c_str()) != 0) child_fail(report_fd, 1, errno);
    execve(req.program.c_str(), argv.data(), envp.data());
    child_fail(report_fd, 0, errno);
  }

  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  close(err_pipe[1]);
  if (devnull >= 0) close(devnull);
  if (procs_fd >= 0) close(procs_fd);
  result.pid = pid;
  result.exec_report_fd = err_pipe[0];
  return result;
}

Result<Credentials> resolve_credentials(const std::string& user, const std::string& group_name) {
  Credentials c;
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!user.empty()) {
    const passwd* pw = numeric(user) ? getpwuid(static_cast<uid_t>(std::stoul(user))) : getpwnam(user.c_str());
    if (!pw && !numeric(user)) return Error{"option 'uid': no user named '" + user + "'"};
    c.uid = pw ? pw->pw_uid : static_cast<uid_t>(std::stoul(user));
    if (pw) {
      c.gid = pw->pw_gid;  // the user's primary group unless gid says otherwise
      c.home = pw->pw_dir ? pw->pw_dir : "";
    } else {
      c.gid = static_cast<gid_t>(*c.uid);  // no group known: the uid's own number, not root's
    }
  }
  if (!group_name.empty()) {
    const struct group* gr = numeric(group_name) ? getgrgid(static_cast<gid_t>(std::stoul(group_name)))
                                                 : getgrnam(group_name.c_str());
    if (!gr && !numeric(group_name)) return Error{"option 'gid': no group named '" + group_name + "'"};
    c.gid = gr ? gr->gr_gid : static_cast<gid_t>(std::stoul(group_name));
  }
  if (c.uid || c.gid) c.groups = supplementary_groups(c.uid, *c.gid);
  return c;
}

std::string describe_exec_failure(int err, const std::string& step, const std::string& program,
                                  const std::string& cwd) {
  const std::string why = std::strerror(err);
  if (step == "chdir") return "cannot change to the app's cwd " + cwd + " (for " + program + "): " + why;
  if (step == "cgroup") return "cannot join the instance's cgroup (for " + program + "): " + why;
  if (step == "setuid/setgid") return "cannot switch user or group (for " + program + "): " + why;
  return "cannot execute " + program + ": " + why;
}

void watch_exec(boost::asio::io_context& io, int fd, ExecReport done) {
  struct Watch {
    Watch(boost::asio::io_context& io, int fd, ExecReport d) : pipe(io, fd), done(std::move(d)) {}
    boost::asio::posix::stream_descriptor pipe;
    ChildError report{};
    ExecReport done;
  };
  auto w = std::make_shared<Watch>(io, fd, std::move(done));
  // Without O_NONBLOCK, Asio's first (speculative) read would block the loop until the exec.
  boost::system::error_code ignored;
  w->pipe.non_blocking(true, ignored);
  boost::asio::async_read(w->pipe, boost::asio::buffer(&w->report, sizeof w->report),
                          [w](const boost::system::error_code&, std::size_t n) {
                            if (n == sizeof w->report) {
                              const int step = w->report.step;
                              w->done(w->report.err, step == 1 ? "chdir" : step == 2 ? "cgroup" : step == 3 ? "setuid/setgid" : "exec");
                            } else {
                              w->done(0, "");  // closed by exec: success
                            }
                          });
}

}  // namespace pmx::daemon
