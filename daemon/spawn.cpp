// spawn: fork + exec with a close-on-exec error pipe (systemd exec_fd, tini restore_signals).
#include "daemon/spawn.hpp"

#include "config/paths.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <memory>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
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

void close_from(int lowest) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, lowest, ~0U, 0) == 0) return;
#endif
  for (int fd = lowest; fd < 65536; ++fd) close(fd);
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

// The signals this process ignores, found once: the daemon's dispositions are set at startup.
const std::vector<int>& ignored_signals() {
  static const std::vector<int> ignored = [] {
    std::vector<int> out;
    for (int sig = 1; sig < NSIG; ++sig) {
      struct sigaction sa{};
      if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN) {
        out.push_back(sig);
      }
    }
    return out;
  }();
  return ignored;
}

SpawnResult spawn(const SpawnRequest& req) {
  SpawnResult result;
  const std::vector<int>& ignored = ignored_signals();
  std::vector<char*> argv;
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.fork_error = {errno, std::generic_category()};
    return result;
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

  pid_t pid = -1;
  int procs_fd = -1;  // for kernels without clone3 into a cgroup: the child joins by itself
  if (req.cgroup_dir_fd >= 0) {
    pid = fork_into_cgroup(req.cgroup_dir_fd);
    if (pid < 0) procs_fd = openat(req.cgroup_dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  }
  if (pid < 0) pid = fork();
  if (pid < 0) {
    result.fork_error = {errno, std::generic_category()};
    close(err_pipe[0]);
    close(err_pipe[1]);
    if (devnull >= 0) close(devnull);
    if (procs_fd >= 0) close(procs_fd);
    return result;
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only from here on.
    const int efd = err_pipe[1];
    if (procs_fd >= 0 && write(procs_fd, "0\n", 2) < 0) child_fail(efd, 2, errno);
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Handled signals reset by themselves at exec; ignored ones would stay ignored in the app.
    for (int sig : ignored) signal(sig, SIG_DFL);
    // Move the fds we keep above 2 first so dup2 cannot clobber one with another.
    if (devnull >= 0) dup2(devnull, 0);
    dup2(req.stdout_fd, 1);
    dup2(req.stderr_fd, 2);
    // Keep the error pipe alive across close_from: move it to fd 3 (close-on-exec).
    if (efd != 3) {
      if (dup3(efd, 3, O_CLOEXEC) < 0) _exit(127);
    }
    close_from(4);
    // Drop privileges last: the group list, then the group, then the user.
    if (req.gid || req.uid) {
      gid_t g = req.gid ? *req.gid : getgid();
      if (setgroups(1, &g) != 0 || setgid(g) != 0) child_fail(3, 3, errno);
    }
    if (req.uid && setuid(*req.uid) != 0) child_fail(3, 3, errno);
    if (!req.cwd.empty() && chdir(req.cwd.c_str()) != 0) child_fail(3, 1, errno);
    execve(req.program.c_str(), argv.data(), envp.data());
    child_fail(3, 0, errno);
  }

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
    }
  }
  if (!group_name.empty()) {
    const struct group* gr = numeric(group_name) ? getgrgid(static_cast<gid_t>(std::stoul(group_name)))
                                                 : getgrnam(group_name.c_str());
    if (!gr && !numeric(group_name)) return Error{"option 'gid': no group named '" + group_name + "'"};
    c.gid = gr ? gr->gr_gid : static_cast<gid_t>(std::stoul(group_name));
  }
  return c;
}

void watch_exec(boost::asio::io_context& io, int fd, ExecReport done) {
  struct Watch {
    Watch(boost::asio::io_context& io, int fd, ExecReport d) : pipe(io, fd), done(std::move(d)) {}
    boost::asio::posix::stream_descriptor pipe;
    ChildError report{};
    ExecReport done;
  };
  auto w = std::make_shared<Watch>(io, fd, std::move(done));
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
