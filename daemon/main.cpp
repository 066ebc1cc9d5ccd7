// pmxd: lock the home, bind the socket, detach (unless --foreground), run the supervisor.
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <string>

#include "config/paths.hpp"
#include "config/units.hpp"
#include "daemon/control/control_server.hpp"
#include "daemon/state/daemon_lock.hpp"
#include "daemon/logs/daemon_log.hpp"
#include "daemon/listeners/listeners.hpp"
#include "daemon/logs/log_pipe.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/control/service_notifier.hpp"
#include "daemon/supervisor/supervisor.hpp"
#include "daemon/process/system_process_ops.hpp"
#include "daemon/process/asio_timers.hpp"
#include "ipc/version.hpp"

namespace {

constexpr const char* kUsage =
    "usage: pmxd [--foreground] [--resurrect] [--no-cgroup] [--no-balancer] [--sample-interval MS]\n"
    "\n"
    "The pmx daemon. It serves $PMX_HOME/pmx.sock (PMX_HOME defaults to ~/.pmx); the pmx CLI\n"
    "starts it when needed.\n"
    "  --foreground          stay attached to the terminal and also log to stderr\n"
    "  --resurrect           start the apps saved in $PMX_HOME/dump.pmx (pmx save) that are\n"
    "                        not running; under systemd (Type=notify), READY=1 follows\n"
    "  --no-cgroup           track instances without cgroup v2 (process group and /proc)\n"
    "  --no-balancer         cluster mode: the instances share one socket per address instead\n"
    "                        of one each with connections handed out in turn (PMX_NO_BALANCER=1)\n"
    "  --sample-interval MS  how often memory limits are checked (default 1000, or\n"
    "                        PMX_SAMPLE_INTERVAL_MS)\n"
    "  --protocol-version    print the control protocol's version (pmx update checks it)\n"
    "\n"
    "Signals: SIGTERM, SIGINT stop every app, then pmxd exits 0; SIGUSR1, SIGUSR2 reopen\n"
    "every log file (pmx reloadLogs), for logrotate.\n"
    "Exit codes: 0 stopped, 1 cannot start (home, lock, socket), 2 usage, 70 internal error\n"
    "(logged at critical in pmx.log; the apps keep running, the next pmxd adopts them).\n";

void make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  }
}

// Whatever a library opened without O_CLOEXEC (spdlog's file) must not reach an app.
void set_cloexec_everywhere() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return;
  const int self = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd > 2 && fd != self) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  ::closedir(d);
}

void redirect_stdio_to_null() {
  int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  ::dup2(fd, 0);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  ::close(fd);
}

/// Where the Node preload is: $PMX_NODE_PRELOAD, else next to pmxd (the build tree), else in
/// ../lib/pmx (the package's /usr/lib/pmx for /usr/bin/pmxd). Empty when there is none.
std::string find_node_preload() {
  if (const char* p = std::getenv("PMX_NODE_PRELOAD"); p && *p) return p;
  std::string dir = pmx::config::own_executable();
  if (dir.empty()) return "";
  dir.resize(dir.rfind('/'));
  for (const std::string& candidate : {dir + "/pmx-node-preload.js", dir + "/../lib/pmx/pmx-node-preload.js"}) {
    if (::access(candidate.c_str(), R_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pmx;
  // Replies to list and describe are one string of up to megabytes, built and freed at once.
  // With glibc's default the mmap threshold rises past such a string after its first free, and
  // later ones come from the heap, whose freed middle stays resident. A fixed threshold keeps
  // every block of 128 KiB or more in its own mapping, returned to the kernel when freed.
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  bool foreground = false;
  daemon::DaemonOptions options;
  options.paths = config::Paths::from_environment();
  if (const char* s = std::getenv("PMX_SAMPLE_INTERVAL_MS")) {
    if (auto ms = config::parse_duration_ms(s); ms && *ms > 0) options.sample_interval = daemon::Millis(*ms);
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--foreground" || a == "-f") {
      foreground = true;
    } else if (a == "--resurrect") {
      options.resurrect = true;
    } else if (a == "--no-cgroup") {
      options.use_cgroups = false;
    } else if (a == "--no-balancer") {
      daemon::Listeners::set_balancing(false);
    } else if (a == "--sample-interval" && i + 1 < argc) {
      auto ms = config::parse_duration_ms(argv[++i]);
      if (!ms || *ms == 0) {
        std::cerr << "pmxd: --sample-interval: " << (ms ? "must be > 0" : ms.error()) << "\n";
        return 2;
      }
      options.sample_interval = daemon::Millis(*ms);
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == ipc::kProtocolFlag) {
      // Asked by the pmxd that `pmx update` will exec this binary from (BinaryProbe).
      std::cout << ipc::kProtocolAnswer << ipc::kProtocolVersion << "\n";
      return 0;
    } else if (a == "--version") {
      std::cout << "pmxd " << ipc::version_line() << "\n";
      return 0;
    } else {
      std::cerr << "pmxd: unknown argument '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (std::getenv("PMX_NO_CGROUP")) options.use_cgroups = false;
  if (std::getenv("PMX_NO_BALANCER")) daemon::Listeners::set_balancing(false);
  options.node_preload = find_node_preload();
  options.runtime_dir = "/run/pmx";  // root pmxd's sd_notify socket (docs/security.md)

  const config::Paths& paths = options.paths;
  boost::asio::io_context io{1};
  std::unique_ptr<daemon::DaemonLock> lock;
  std::unique_ptr<daemon::ControlServer> server;
  try {
    // Lock and bind before detaching, so that errors reach the terminal.
    make_dir(paths.home, 0700);
    ::chmod(paths.home.c_str(), 0700);
    make_dir(paths.logs_dir(), 0755);
    make_dir(paths.pids_dir(), 0755);
    // Exec'd by `pmx update`: the lock comes with the exec, never let go in between.
    if (const char* inherited = std::getenv(daemon::DaemonLock::kInheritedLockEnv)) {
      const int fd = std::atoi(inherited);
      ::unsetenv(daemon::DaemonLock::kInheritedLockEnv);  // not for the apps
      lock = std::make_unique<daemon::DaemonLock>(paths.daemon_pid(), fd);
    } else {
      lock = std::make_unique<daemon::DaemonLock>(paths.daemon_pid());
    }
    server = std::make_unique<daemon::ControlServer>(io, paths.socket());
  } catch (const std::exception& e) {
    std::cerr << "pmxd: " << e.what() << "\n";
    return 1;
  }

  if (!foreground) {
    io.notify_fork(boost::asio::io_context::fork_prepare);
    pid_t pid = ::fork();
    if (pid < 0) {
      std::cerr << "pmxd: fork: " << std::strerror(errno) << "\n";
      return 1;
    }
    if (pid > 0) {
      // The socket is bound and listening: clients can connect as soon as we return.
      std::_Exit(0);
    }
    io.notify_fork(boost::asio::io_context::fork_child);
    ::setsid();
    redirect_stdio_to_null();
  }
  lock->write_pid(::getpid());
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  std::shared_ptr<daemon::DaemonLog> daemon_log;
  try {
    daemon_log = std::make_shared<daemon::DaemonLog>(paths.daemon_log());
    options.daemon_log = daemon_log->sink();
    auto logger = std::make_shared<spdlog::logger>("pmxd", daemon_log);
    if (foreground) logger->sinks().push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    logger->flush_on(spdlog::level::warn);  // info lines are flushed once a sampling tick
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  } catch (const std::exception& e) {
    std::cerr << "pmxd: cannot open " << paths.daemon_log() << ": " << e.what() << "\n";
    return 1;
  }
  set_cloexec_everywhere();
  spdlog::info("pmxd {} started, pid {}, home {}", PMX_VERSION, ::getpid(), paths.home);

  daemon::ServiceNotifier service(io);
  if (service.active()) {
    options.on_ready = [&service] { service.ready("every app adopted and resurrected"); };
    options.on_stopping = [&service] { service.stopping(); };
  }
  options.lock_fd = lock->fd();
  daemon::SystemProcessOps processes(io, options.use_cgroups, paths.cgroup_name());
  daemon::LogPipe::prepare();  // its descriptors are pmxd's from the start, not a leak at the first app
  daemon::AsioTimers timers(io);
  daemon::Supervisor supervisor(io, options, *server, processes, timers);
  supervisor.start();
  server->start();
  if (const int failed = daemon::run_event_loop(io); failed != 0) {
    // Crash-only, as after a SIGKILL: no clean-up that a half-alive daemon could get wrong; the
    // apps run on and the state file names them for the next pmxd, which adopts them.
    spdlog::default_logger()->flush();
    std::_Exit(failed);
  }
  lock->clear();
  spdlog::info("pmxd exited");
  spdlog::default_logger()->flush();
  return 0;
}
