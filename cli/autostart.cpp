// Daemon auto-start: run pmxd (which detaches once its socket is bound) and connect.
#include "cli/autostart.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "cli/close_fds.hpp"

namespace pmx::cli {
namespace {

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// Whether a pmxd holds the home's lock (see daemon/state/daemon_lock.hpp), tested without taking it.
bool daemon_lock_held(const config::Paths& paths) {
  int fd = ::open(paths.daemon_pid().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock probe{};
  probe.l_type = F_RDLCK;
  probe.l_whence = SEEK_SET;
  const bool held = ::fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

// Runs pmxd and waits for its first process to exit: 0 means the socket is bound.
void start_daemon(const config::Paths& paths) {
  const std::string bin = daemon_binary();
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw Unreachable(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) throw Unreachable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(err_pipe[1], 2);
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
    }
    close_fds_from(3);
    ::setenv("PMX_HOME", paths.home.c_str(), 1);
    ::execl(bin.c_str(), bin.c_str(), static_cast<char*>(nullptr));
    std::string msg = "cannot run " + bin + ": " + std::strerror(errno) + "\n";
    ssize_t n = ::write(2, msg.data(), msg.size());
    (void)n;
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  std::string errors;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(err_pipe[0], buf, sizeof buf)) > 0) errors.append(buf, static_cast<std::size_t>(n));
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!errors.empty() && errors.back() == '\n') errors.pop_back();
    throw Unreachable("could not start the daemon (" + bin + ")" + (errors.empty() ? "" : ": " + errors));
  }
}

}  // namespace

std::string companion_binary(const std::string& name, const std::string& build_folder) {
  if (const std::string self = config::own_executable(); !self.empty()) {
    const std::string dir = self.substr(0, self.rfind('/'));
    // Next to pmx (a plain copy), the package's /usr/lib/pmx for /usr/bin/pmx, the build tree.
    for (const std::string& candidate :
         {dir + "/" + name, dir + "/../lib/pmx/" + name, dir + "/../" + build_folder + "/" + name}) {
      if (executable(candidate)) return candidate;
    }
  }
  return name;
}

std::string daemon_binary() {
  if (const char* p = std::getenv("PMXD"); p && *p) return p;
  return companion_binary("pmxd", "daemon");
}

void connect(ipc::Client& client, const config::Paths& paths, bool autostart) {
  std::error_code ec = client.connect(paths.socket());
  if (!ec) return;
  const bool nobody_home = ec == std::errc::no_such_file_or_directory || ec == std::errc::connection_refused;
  if (!nobody_home) throw Unreachable("cannot connect to " + paths.socket() + ": " + ec.message());
  if (!autostart) throw Unreachable("pmxd is not running (no answer on " + paths.socket() + ")");
  // Several CLIs may race to start the daemon: one pmxd takes the home's lock, the others exit
  // with an error. A CLI whose pmxd lost waits for the winner's socket instead of failing. A
  // pmxd that was just killed (kill -9) may still hold the lock for a moment while its socket
  // already refuses: ours then fails on the lock of a daemon that is gone a moment later, and
  // is started again once the lock is free (a few times at most, within the deadline).
  constexpr int kStartAttempts = 5;
  std::string start_error;
  int attempts = 0;
  auto start = [&] {
    ++attempts;
    start_error.clear();
    try {
      start_daemon(paths);
    } catch (const Unreachable& e) {
      start_error = e.what();
    }
  };
  start();
  // pmxd returned after binding, so this normally succeeds at once; allow for a slow machine.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    ec = client.connect(paths.socket());
    if (!ec) return;
    if (!start_error.empty() && !daemon_lock_held(paths)) {
      // Nobody holds the lock now: whatever held it (a daemon dying, a rival that failed) is
      // gone; ours could take it now.
      if (attempts >= kStartAttempts || std::chrono::steady_clock::now() > deadline) throw Unreachable(start_error);
      start();
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw Unreachable(start_error.empty() ? "pmxd started but does not answer on " + paths.socket() + ": " + ec.message()
                                            : start_error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace pmx::cli
